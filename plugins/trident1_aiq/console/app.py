"""The integration's console: a FastAPI app mounted by Airflow's api-server (``plugins/trident1_console.py``).

Thin on purpose: every page gathers its inputs (Variables, the warehouse, the DAG's runs),
calls the plain functions of ``data.py`` and renders a Jinja template (autoescaped) with
inline SVG. Who may do what is Airflow's auth manager's decision, through Airflow's own
security dependencies: reading needs the right to read the DAG, saving a mapping the
right to edit the ``trident1_store_mappings`` Variable, triggering the right to create
the DAG's runs. Forms that change something carry a CSRF token bound to the user.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
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
from trident1_aiq.settings.config import VAR_MAPPINGS

log = get_logger(__name__)

TEMPLATES = Path(__file__).with_name("templates")
CSRF_SALT = "trident1-console-csrf"
CSRF_MAX_AGE = 8 * 3600
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


def csrf_token(user_name: str) -> str:
    return _serializer().dumps({"u": user_name})


def check_csrf(token: str, user_name: str) -> None:
    """The form's token must be one this server signed, recently, for this very user."""
    from itsdangerous import BadSignature, SignatureExpired

    try:
        payload = _serializer().loads(token or "", max_age=CSRF_MAX_AGE)
    except SignatureExpired:
        raise HTTPException(403, "The form has expired: reload the page and try again.") from None
    except BadSignature:
        raise HTTPException(403, "The form's CSRF token is missing or invalid: reload the page.") from None
    if not isinstance(payload, dict) or payload.get("u") != user_name:
        raise HTTPException(403, "The form's CSRF token belongs to another user: reload the page.")


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
    }


def create_app() -> FastAPI:
    """The console's FastAPI app (FastAPI resolves the annotations below against this module's globals)."""
    can_read = Depends(requires_access_dag("GET", param_dag_id=airflow_side.DAG_ID))
    can_trigger = Depends(requires_access_dag("POST", DagAccessEntity.RUN, param_dag_id=airflow_side.DAG_ID))

    def requires_mapping_edit(user: GetUserDep) -> None:
        """Saving a mapping is editing the ``trident1_store_mappings`` Variable: the auth manager decides."""
        if not _permissions(user)["edit_mappings"]:
            raise HTTPException(403, f"Forbidden: saving a mapping needs the permission to edit the "
                                     f"Variable {VAR_MAPPINGS}.")

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

    @app.get("/", dependencies=[can_read])
    def index() -> RedirectResponse:
        return RedirectResponse("mappings", status_code=303)

    def mappings_response(user, session, *, message: str | None = None, problems: list[str] | None = None,
                          status_code: int = 200, selected: dict[str, str] | None = None) -> HTMLResponse:
        texts = airflow_side.read_texts()
        page = data.mappings_page(airflow_side.warehouse(), texts)
        return render("mappings.html", status_code=status_code, page=page, user=user.get_name(),
                      perms=_permissions(user), csrf=csrf_token(user.get_name()),
                      fingerprint=airflow_side.fingerprint(texts.get(VAR_MAPPINGS)),
                      shadowed=airflow_side.shadowing_backend(VAR_MAPPINGS),
                      dag=airflow_side.dag_state(session), default_day=airflow_side.default_day(),
                      message=message, problems=problems or [], selected=selected or {}, active="mappings")

    @app.get("/mappings", response_class=HTMLResponse, dependencies=[can_read])
    def mappings(user: GetUserDep, session: SessionDep) -> HTMLResponse:
        return mappings_response(user, session)

    @app.post("/mappings", response_class=HTMLResponse, dependencies=[can_read, Depends(requires_mapping_edit)])
    def save_mapping(
        user: GetUserDep,
        session: SessionDep,
        credential: Annotated[str, Form(max_length=100)],
        location_id: Annotated[str, Form(max_length=200)],
        fingerprint: Annotated[str, Form(max_length=64)],
        csrf_token: Annotated[str, Form(max_length=500)] = "",
        store_id: Annotated[str, Form(max_length=100)] = "",
    ) -> HTMLResponse:
        check_csrf(csrf_token, user.get_name())
        selected = {"credential": credential, "location_id": location_id, "store_id": store_id}
        shadow = airflow_side.shadowing_backend(VAR_MAPPINGS)
        if shadow:
            return mappings_response(user, session, status_code=409, selected=selected, problems=[
                f"{VAR_MAPPINGS} is set by {shadow}, which Airflow reads before its database: change it there."])
        texts = airflow_side.read_texts()
        if airflow_side.fingerprint(texts.get(VAR_MAPPINGS)) != fingerprint:
            return mappings_response(user, session, status_code=409, selected=selected, problems=[
                f"{VAR_MAPPINGS} changed since this page was opened; nothing was saved. Check the list and "
                "save again."])
        wh = airflow_side.warehouse()
        try:
            new = data.edit_mappings(texts.get(VAR_MAPPINGS), credential, location_id, store_id or None)
        except (ValueError, TypeError) as exc:
            problems = list(getattr(exc, "problems", None) or [f"{VAR_MAPPINGS}: {exc}"])
            return mappings_response(user, session, status_code=400, selected=selected, problems=problems)
        _settings, problems = data.validate_edit(texts, new, data.reported_locations(wh), credential, location_id,
                                                 store_id or None)
        if problems:
            return mappings_response(user, session, status_code=400, selected=selected, problems=problems)
        airflow_side.save_variable(session, VAR_MAPPINGS, data.mappings_text(new), user.get_name())
        log.info("%s: %r mapped %r/%r to %r", airflow_side.SOURCE, user.get_name(), credential, location_id,
                 store_id or "(none)")
        target = f"retail store {store_id}" if store_id else "no store (its records will be held)"
        return mappings_response(user, session, message=f"Saved: {credential} location {location_id} → {target}. "
                                                        "The next run uses it.")

    @app.post("/trigger", response_class=HTMLResponse, dependencies=[can_read, can_trigger])
    def trigger(
        user: GetUserDep,
        session: SessionDep,
        day: Annotated[date, Form()],
        csrf_token: Annotated[str, Form(max_length=500)] = "",
        unpause: Annotated[str, Form(max_length=10)] = "",
    ) -> HTMLResponse:
        check_csrf(csrf_token, user.get_name())
        if day >= datetime.now(UTC).date():  # a business day is run once it has ended (UTC)
            return mappings_response(user, session, status_code=400,
                                     problems=[f"{day.isoformat()} has not ended yet: pick a day that has ended."])
        do_unpause = bool(unpause) and _permissions(user)["unpause"]
        try:
            run_id = airflow_side.trigger(session, day, user.get_name(), unpause=do_unpause)
        except LookupError as exc:
            return mappings_response(user, session, status_code=409, problems=[str(exc)])
        return mappings_response(user, session, message=f"Triggered {airflow_side.DAG_ID} for {day.isoformat()}: "
                                                        f"run {run_id}. Integration health shows it once it ends.")

    @app.get("/health", response_class=HTMLResponse, dependencies=[can_read])
    def health(user: GetUserDep, session: SessionDep) -> HTMLResponse:
        texts = airflow_side.read_texts()
        now = datetime.now(UTC)
        creds = data.health(airflow_side.warehouse(), texts, now)
        first, last = data.health_window(now.date())
        return render("health.html", creds=creds, first=first, last=last, now=now, user=user.get_name(),
                      dag=airflow_side.dag_state(session), freshness=data.freshness_hours(texts.get("trident1_integration")),
                      active="health")

    @app.get("/quarantine", response_class=HTMLResponse, dependencies=[can_read])
    def quarantine(request: Request, user: GetUserDep) -> HTMLResponse:
        flt = data.clean_filter(dict(request.query_params))
        page = data.quarantine_page(airflow_side.warehouse(), flt)
        return render("quarantine.html", page=page, user=user.get_name(), active="quarantine")

    return app
