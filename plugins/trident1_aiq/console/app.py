"""The integration's console: a FastAPI app mounted by Airflow's api-server (``plugins/trident1_console.py``).

Thin on purpose: every page gathers its inputs (Variables, the warehouse, the DAG's runs),
calls the plain functions of ``data.py`` and renders a Jinja template (autoescaped) with
inline SVG. Who may do what is Airflow's auth manager's decision, through Airflow's own
security dependencies: reading needs the right to read the DAG, saving a mapping the
right to edit the ``trident1_store_mappings`` Variable (and ``aiq_retail_stores`` to add a store),
triggering the right to create the DAG's runs, seeing quarantined records' personal data the right
to read Connections (Op and Admin in Airflow's default roles). Forms that change something carry a
CSRF token bound to the login session (the JWT's ``jti``) and must come from the console's origin.
A page view never writes (the warehouse is not migrated from here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from trident1_aiq.console import airflow_side, charts, data
from trident1_aiq.logs import get_logger
from trident1_aiq.settings.config import VAR_MAPPINGS, VAR_STORES, ConfigError

log = get_logger(__name__)

TEMPLATES = Path(__file__).with_name("templates")
CSRF_SALT = "trident1-console-csrf"
CSRF_MAX_AGE = 8 * 3600
#: A trigger for a business day further back than this is refused (besides the DAG's start_date).
TRIGGER_HISTORY_DAYS = 366
SECURITY_HEADERS = {
    # No script at all; styles inline; framed only by Airflow's own UI (same origin).
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True),
                   trim_blocks=True, lstrip_blocks=True)
_env.globals.update(bars=charts.day_bars, legend=charts.legend)


def _fmt_time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _fmt_seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


_env.filters.update(time=_fmt_time, seconds=_fmt_seconds)


def render(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(template).render(**context), status_code=status_code,
                        headers=SECURITY_HEADERS)


# ------------------------------------------------------------------ security


def _serializer():
    from airflow.configuration import conf
    from itsdangerous import URLSafeTimedSerializer

    secret = conf.get("api", "secret_key", fallback=None) or conf.get("api_auth", "jwt_secret")
    return URLSafeTimedSerializer(secret, salt=CSRF_SALT)


def session_id(request: Request) -> str:
    """The login session a request belongs to: the ``jti`` of the JWT Airflow authenticated it with
    (the ``Authorization`` header's, else the ``_token`` cookie's), which logging out revokes; a token
    without one is identified by its digest. Read only after Airflow's ``get_user`` validated the token."""
    import hashlib

    import jwt

    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else request.cookies.get("_token", "")
    try:
        jti = jwt.decode(token, options={"verify_signature": False}).get("jti")
    except jwt.PyJWTError:
        jti = None
    return str(jti) if jti else hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def csrf_token(user_name: str, session: str) -> str:
    return _serializer().dumps({"u": user_name, "s": session})


def check_origin(request: Request) -> None:
    """A form that changes something must come from the console's own origin: the browser's ``Origin``
    (or, lacking one, ``Referer``) must name this host. A client sending neither is not a browser a
    cross-site form could drive, and still needs the session's CSRF token."""
    from urllib.parse import urlsplit

    sent = request.headers.get("origin") or request.headers.get("referer")
    if sent is None:
        return
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or request.url.netloc
    origin = urlsplit(sent)
    if sent == "null" or not origin.netloc or origin.netloc.lower() != host.split(",")[0].strip().lower():
        raise HTTPException(403, "The form was sent from another site (its Origin is not this console's): "
                                 "nothing was changed.")


def check_csrf(request: Request, token: str, user_name: str) -> None:
    """The form comes from this origin and its token is one this server signed, recently, for this very
    user and login session (a token from before a logout, or another session's, is refused)."""
    from itsdangerous import BadSignature, SignatureExpired

    check_origin(request)
    try:
        payload = _serializer().loads(token or "", max_age=CSRF_MAX_AGE)
    except SignatureExpired:
        raise HTTPException(403, "The form has expired: reload the page and try again.") from None
    except BadSignature:
        raise HTTPException(403, "The form's CSRF token is missing or invalid: reload the page.") from None
    if not isinstance(payload, dict) or payload.get("u") != user_name:
        raise HTTPException(403, "The form's CSRF token belongs to another user: reload the page.")
    if payload.get("s") != session_id(request):
        raise HTTPException(403, "The form's CSRF token belongs to another login session (signed out since?): "
                                 "reload the page.")


def _permissions(user) -> dict[str, bool]:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails, VariableDetails

    am = get_auth_manager()
    return {
        "edit_mappings": am.is_authorized_variable(method="PUT", details=VariableDetails(key=VAR_MAPPINGS),
                                                   user=user),
        "trigger": am.is_authorized_dag(method="POST", access_entity=DagAccessEntity.RUN,
                                        details=DagDetails(id=airflow_side.DAG_ID), user=user),
        "unpause": am.is_authorized_dag(method="PUT", details=DagDetails(id=airflow_side.DAG_ID), user=user),
        "add_store": am.is_authorized_variable(method="PUT", details=VariableDetails(key=VAR_STORES), user=user)
        and am.is_authorized_variable(method="PUT", details=VariableDetails(key=VAR_MAPPINGS), user=user),
        # Personal data (quarantined records' customers): whoever may read Connections, i.e. the people
        # already trusted with the integration's secrets (Op and Admin in Airflow's default roles).
        "personal_data": am.is_authorized_connection(method="GET", user=user),
    }


@dataclass(frozen=True)
class LocationForm:
    """The fields every save's form has: the location, the fingerprint of the page's Variable, the token."""

    credential: str
    location_id: str
    fingerprint: str
    csrf_token: str


def location_form(
    credential: Annotated[str, Form(max_length=100)],
    location_id: Annotated[str, Form(max_length=200)],
    fingerprint: Annotated[str, Form(max_length=64)],
    csrf_token: Annotated[str, Form(max_length=500)] = "",
) -> LocationForm:
    return LocationForm(credential, location_id, fingerprint, csrf_token)


def create_app() -> FastAPI:
    """The console's FastAPI app (FastAPI resolves the annotations below against this module's globals)."""
    can_read = Depends(requires_access_dag("GET", param_dag_id=airflow_side.DAG_ID))
    can_trigger = Depends(requires_access_dag("POST", DagAccessEntity.RUN, param_dag_id=airflow_side.DAG_ID))

    def requires_mapping_edit(user: GetUserDep) -> None:
        """Saving a mapping is editing the ``trident1_store_mappings`` Variable: the auth manager decides."""
        if not _permissions(user)["edit_mappings"]:
            raise HTTPException(403, f"Forbidden: saving a mapping needs the permission to edit the "
                                     f"Variable {VAR_MAPPINGS}.")

    def requires_store_add(user: GetUserDep) -> None:
        """Adding a retail store edits ``aiq_retail_stores`` and ``trident1_store_mappings``."""
        if not _permissions(user)["add_store"]:
            raise HTTPException(403, f"Forbidden: adding a retail store needs the permission to edit the "
                                     f"Variables {VAR_STORES} and {VAR_MAPPINGS}.")

    app = FastAPI(title="Trident1 console", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        login = None
        if exc.status_code == 401:
            try:
                from airflow.api_fastapi.app import get_auth_manager

                login = get_auth_manager().get_url_login(next_url=str(request.url))
            except Exception:  # no auth manager: the message alone
                login = None
        return render("error.html", status_code=exc.status_code, status=exc.status_code,
                      detail=str(exc.detail), login=login)

    @app.exception_handler(airflow_side.WarehouseNotReady)
    async def not_migrated(request: Request, exc: airflow_side.WarehouseNotReady):
        return render("error.html", status_code=503, status=503, detail=str(exc), login=None)

    @app.get("/", dependencies=[can_read])
    def index() -> RedirectResponse:
        return RedirectResponse("mappings", status_code=303)

    def mappings_response(user, session, request: Request, *, message: str | None = None,
                          problems: list[str] | None = None, status_code: int = 200,
                          selected: dict[str, str] | None = None) -> HTMLResponse:
        texts = airflow_side.read_texts()
        not_ready = None
        try:
            page = data.mappings_page(airflow_side.warehouse(), texts)
        except airflow_side.WarehouseNotReady as exc:  # the page still offers the trigger of a first run
            not_ready = str(exc)
            page = data.MappingsPage(credentials=[], locations={}, stores=[], held_next_run=0, held_unmapped=0,
                                     problems=data.variable_problems(texts))
            status_code = 503 if status_code == 200 and message is None else status_code
        today = datetime.now(UTC).date()
        return render("mappings.html", status_code=status_code, page=page, user=user.get_name(),
                      perms=_permissions(user), csrf=csrf_token(user.get_name(), session_id(request)),
                      fingerprint=airflow_side.fingerprint(texts.get(VAR_MAPPINGS)),
                      stores_fingerprint=airflow_side.fingerprint(texts.get(VAR_STORES)),
                      shadowed=airflow_side.shadowing_backend(VAR_MAPPINGS),
                      dag=airflow_side.dag_state(session), default_day=airflow_side.default_day(),
                      first_day=today - timedelta(days=TRIGGER_HISTORY_DAYS),
                      not_ready=not_ready, message=message, problems=problems or [], selected=selected or {},
                      active="mappings")

    def save(user, session, request: Request, selected: dict[str, str], changes: dict[str, tuple[str, str]],
             message: str) -> HTMLResponse:
        """Write ``changes`` (Variable → (fingerprint, text)) under lock, or say who changed them first."""
        try:
            airflow_side.save_variables(session, changes, user.get_name())
        except airflow_side.ChangedMeanwhile as exc:
            return mappings_response(user, session, request, status_code=409, selected=selected, problems=[
                f"{exc} changed since you opened the page (someone else saved meanwhile); nothing was saved. "
                "Check the list and save again."])
        log.info("%s: %s saved %s", airflow_side.SOURCE, user.get_name(), ", ".join(sorted(changes)))
        return mappings_response(user, session, request, message=message)

    def refusal(user, session, request: Request, selected: dict[str, str], texts: dict[str, str | None],
                keys: tuple[str, ...]) -> HTMLResponse | None:
        """The answer when a save must not even start: a Variable set ahead of the database, or changed
        since the page was opened (checked again under lock when saving)."""
        for key, fp in keys:
            shadow = airflow_side.shadowing_backend(key)
            if shadow:
                return mappings_response(user, session, request, status_code=409, selected=selected, problems=[
                    f"{key} is set by {shadow}, which Airflow reads before its database: change it there."])
            if airflow_side.fingerprint(texts.get(key)) != fp:
                return mappings_response(user, session, request, status_code=409, selected=selected, problems=[
                    f"{key} changed since you opened the page; nothing was saved. Check the list and "
                    "save again."])
        return None

    def start_save(request: Request, user, session, form: LocationForm, store_id: str,
                   more: tuple[tuple[str, str], ...]) -> tuple[dict[str, str | None], dict[str, str], HTMLResponse | None]:
        """What every save begins with: its CSRF and origin checked, the Variables read, the refusal if any."""
        check_csrf(request, form.csrf_token, user.get_name())
        selected = {"credential": form.credential, "location_id": form.location_id, "store_id": store_id}
        texts = airflow_side.read_texts()
        keys = ((VAR_MAPPINGS, form.fingerprint), *more)
        return texts, selected, refusal(user, session, request, selected, texts, keys)

    @app.get("/mappings", response_class=HTMLResponse, dependencies=[can_read])
    def mappings(request: Request, user: GetUserDep, session: SessionDep) -> HTMLResponse:
        return mappings_response(user, session, request)

    @app.post("/mappings", response_class=HTMLResponse, dependencies=[can_read, Depends(requires_mapping_edit)])
    def save_mapping(
        request: Request,
        user: GetUserDep,
        session: SessionDep,
        form: Annotated[LocationForm, Depends(location_form)],
        store_id: Annotated[str, Form(max_length=100)] = "",
    ) -> HTMLResponse:
        credential, location_id, fingerprint = form.credential, form.location_id, form.fingerprint
        texts, selected, refused = start_save(request, user, session, form, store_id, ())
        if refused is not None:
            return refused
        try:
            current = data.current_list(VAR_MAPPINGS, texts.get(VAR_MAPPINGS))
            new = data.edit_mappings(texts.get(VAR_MAPPINGS), credential, location_id, store_id or None)
        except ConfigError as exc:
            return mappings_response(user, session, request, status_code=400, selected=selected,
                                     problems=exc.problems)
        if new == current:
            target = f"retail store {store_id}" if store_id else "no store"
            return mappings_response(user, session, request, selected=selected, message=(
                f"Nothing to change: {credential} location {location_id} is already mapped to {target}."))
        wh = airflow_side.warehouse()
        _settings, problems = data.validate_edit(texts, new, data.reported_locations(wh), credential, location_id,
                                                 store_id or None)
        if problems:
            return mappings_response(user, session, request, status_code=400, selected=selected, problems=problems)
        target = f"retail store {store_id}" if store_id else "no store (its records will be held)"
        return save(user, session, request, selected, {VAR_MAPPINGS: (fingerprint, data.mappings_text(new))},
                    f"Saved: {credential} location {location_id} → {target}. The next run uses it.")

    @app.post("/stores", response_class=HTMLResponse, dependencies=[can_read, Depends(requires_store_add)])
    def add_store(
        request: Request,
        user: GetUserDep,
        session: SessionDep,
        form: Annotated[LocationForm, Depends(location_form)],
        stores_fingerprint: Annotated[str, Form(max_length=64)],
        store_id: Annotated[str, Form(max_length=100)],
        store_name: Annotated[str, Form(max_length=500)],
        phone: Annotated[str, Form(max_length=500)],
        email: Annotated[str, Form(max_length=500)],
        line1: Annotated[str, Form(max_length=500)],
        city: Annotated[str, Form(max_length=500)],
        state: Annotated[str, Form(max_length=100)],
        postal_code: Annotated[str, Form(max_length=20)],
        country: Annotated[str, Form(max_length=2)],
        timezone: Annotated[str, Form(max_length=64)],
    ) -> HTMLResponse:
        """A new AIQ retail store (appended to ``aiq_retail_stores``) and the location mapped to it, both
        Variables written in one transaction with the same checks as a mapping's save."""
        credential, location_id, fingerprint = form.credential, form.location_id, form.fingerprint
        texts, selected, refused = start_save(request, user, session, form, store_id,
                                              ((VAR_STORES, stores_fingerprint),))
        if refused is not None:
            return refused
        store = data.new_store(store_id=store_id, name=store_name, phone=phone, email=email, line1=line1, city=city,
                               state=state, postal_code=postal_code, country=country, timezone=timezone)
        try:
            stores = data.add_store(texts.get(VAR_STORES), store)
            new = data.edit_mappings(texts.get(VAR_MAPPINGS), credential, location_id, store_id)
        except ConfigError as exc:
            return mappings_response(user, session, request, status_code=400, selected=selected,
                                     problems=exc.problems)
        _settings, problems = data.validate_edit(texts, new, data.reported_locations(airflow_side.warehouse()),
                                                 credential, location_id, store_id, new_stores=stores)
        if problems:
            return mappings_response(user, session, request, status_code=400, selected=selected, problems=problems)
        return save(user, session, request, selected,
                    {VAR_STORES: (stores_fingerprint, data.mappings_text(stores)),
                     VAR_MAPPINGS: (fingerprint, data.mappings_text(new))},
                    f"Saved: retail store {store_id} ({store_name}) added to {VAR_STORES}, and {credential} "
                    f"location {location_id} mapped to it. The next run uses it.")

    @app.post("/trigger", response_class=HTMLResponse, dependencies=[can_read, can_trigger])
    def trigger(
        request: Request,
        user: GetUserDep,
        session: SessionDep,
        day: Annotated[date, Form()],
        csrf_token: Annotated[str, Form(max_length=500)] = "",
        unpause: Annotated[str, Form(max_length=10)] = "",
    ) -> HTMLResponse:
        check_csrf(request, csrf_token, user.get_name())
        problem = data.trigger_day_problem(day, datetime.now(UTC).date(), airflow_side.earliest_day(session),
                                           TRIGGER_HISTORY_DAYS)
        if problem:
            return mappings_response(user, session, request, status_code=400, problems=[problem])
        do_unpause = bool(unpause) and _permissions(user)["unpause"]
        try:
            run_id = airflow_side.trigger(session, day, user.get_name(), unpause=do_unpause)
        except LookupError as exc:
            return mappings_response(user, session, request, status_code=409, problems=[str(exc)])
        return mappings_response(user, session, request,
                                 message=f"Triggered {airflow_side.DAG_ID} for {day.isoformat()}: "
                                         f"run {run_id}. Integration health shows it once it ends.")

    @app.get("/health", response_class=HTMLResponse, dependencies=[can_read])
    def health(user: GetUserDep, session: SessionDep) -> HTMLResponse:
        texts = airflow_side.read_texts()
        now = datetime.now(UTC)
        creds = data.health(airflow_side.warehouse(), texts, now)
        first, last = data.health_window(now.date())
        return render("health.html", creds=creds, first=first, last=last, now=now, user=user.get_name(),
                      dag=airflow_side.dag_state(session), freshness=data.freshness_hours(texts.get("trident1_integration")),
                      variable_problems=data.variable_problems(texts), active="health")

    @app.get("/quarantine", response_class=HTMLResponse, dependencies=[can_read])
    def quarantine(request: Request, user: GetUserDep) -> HTMLResponse:
        try:
            flt = data.clean_filter(dict(request.query_params))
        except data.BadFilter as exc:
            raise HTTPException(400, f"Bad filter: {exc}.") from None
        personal = _permissions(user)["personal_data"]
        page = data.quarantine_page(airflow_side.warehouse(), flt, personal_data=personal)
        return render("quarantine.html", page=page, user=user.get_name(), personal_data=personal,
                      active="quarantine")

    return app
