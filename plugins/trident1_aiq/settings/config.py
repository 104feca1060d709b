"""Settings: the four Airflow Variables and the Connections, validated as a whole.

Nothing here imports Airflow. ``load_settings`` takes the raw Variable texts
(``None`` or absent where a Variable is not set) and returns a :class:`Settings`,
or raises :class:`ConfigError` listing *every* problem, each prefixed with the
Variable and the JSON path of the offending entry (rule 7). A Variable that is not
set is such a problem: the starting values in ``config/`` apply only where a caller
asks for them explicitly (:func:`demo_variables`, used by the demo and the tests),
never as a silent fall-back in a deployment.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from trident1_aiq.paths import CONFIG_DIR

VAR_INTEGRATION = "trident1_integration"
VAR_STORES = "aiq_retail_stores"
VAR_MAPPINGS = "trident1_store_mappings"
VAR_DISCOUNTS = "aiq_discounts"
VARIABLES = (VAR_INTEGRATION, VAR_STORES, VAR_MAPPINGS, VAR_DISCOUNTS)

#: A Variable larger than this is refused before it is parsed.
MAX_VARIABLE_BYTES = 1_000_000
#: Deeper nesting than this is malformed (the four Variables need 4 levels).
MAX_NESTING = 32
#: Digits a number in a Variable may have (Python refuses more than 4,300 with a ValueError).
MAX_NUMBER_DIGITS = 30
#: Characters no text of a Variable may hold (rule 7): C0 controls but tab and newline, DEL, C1
#: controls, and the bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069)
#: that make a store name read differently from what it is.
FORBIDDEN_CHARACTERS = re.compile("[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]")

DEFAULT_CONFIG_DIR = CONFIG_DIR

CONN_ID_RE = re.compile(r"^trident1_[a-z0-9_]{1,60}$")


class ConfigError(ValueError):
    """One or more configuration problems; ``problems`` lists them all."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__(
            "invalid configuration:\n" + "\n".join(f"  - {p}" for p in self.problems)
        )


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


def _region(value: str) -> str:
    if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {value!r}")
    return value.upper()


def _conn_id(value: str) -> str:
    if not CONN_ID_RE.match(value):
        raise ValueError(
            f"{value!r} is not a credential connection id (expected trident1_<name>, "
            "lower case letters, digits and underscores)"
        )
    return value


Timezone = Annotated[str, AfterValidator(_timezone)]
CredentialId = Annotated[str, AfterValidator(_conn_id)]
Text = Annotated[str, Field(min_length=1, max_length=500)]
OptText = Annotated[str | None, Field(default=None, max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class MarketingSettings(_Strict):
    enabled: bool = False
    enabled_at: AwareDatetime | None = None
    purchased_after: date | None = None
    max_requests: int = Field(default=2, ge=1, le=5)

    @model_validator(mode="after")
    def _dates_when_enabled(self) -> MarketingSettings:
        if self.enabled and (self.enabled_at is None or self.purchased_after is None):
            raise ValueError("enabled marketing needs both enabled_at and purchased_after")
        return self

    def first_send_at(self) -> datetime | None:
        """Rule 3: the first double opt-in goes out no earlier than enabled_at + 24 h."""
        return None if self.enabled_at is None else self.enabled_at + timedelta(hours=24)


class LoyaltySettings(_Strict):
    auto_enroll: bool = False
    enabled_at: AwareDatetime | None = None
    purchased_after: date | None = None
    points_per_dollar: Decimal = Field(default=Decimal(1), gt=0, le=1000)

    @model_validator(mode="after")
    def _dates_when_enabled(self) -> LoyaltySettings:
        if self.auto_enroll and (self.enabled_at is None or self.purchased_after is None):
            raise ValueError("auto_enroll needs both enabled_at and purchased_after")
        return self


class AlertSettings(_Strict):
    """Alerts (off by default): a failed run, or a run that quarantined more than usual."""

    enabled: bool = False
    channel: Literal["webhook", "email"] = "webhook"
    webhook_conn_id: Text = "aiq_alerts_webhook"
    smtp_conn_id: Text = "smtp_default"
    email_to: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(default_factory=list)
    email_from: Text = "trident1-aiq@localhost"
    #: Alert when a successful run's rejected share of sales and refunds read exceeds this.
    quarantine_rate_over: float = Field(default=0.02, ge=0, le=1)

    @model_validator(mode="after")
    def _recipients(self) -> AlertSettings:
        if self.enabled and self.channel == "email" and not self.email_to:
            raise ValueError("e-mail alerts need at least one address in email_to")
        return self


class IntegrationSettings(_Strict):
    credentials: list[CredentialId] = Field(min_length=1, max_length=10_000)
    age_compliant: bool = False
    phone_region: Annotated[str, AfterValidator(_region)] = "US"
    max_reject_rate: float = Field(default=0.05, ge=0, le=1)
    lookback_hours: int = Field(default=48, ge=0, le=24 * 31)
    #: A mapped location whose newest loaded sale is older than this is flagged in the run report.
    freshness_hours: int = Field(default=24, ge=1, le=24 * 365)
    #: Sales (or refunds, or customers) per chunk: a chunk is normalised, validated and loaded
    #: in one transaction, so memory follows the chunk, not the day (docs/performance.md).
    chunk_size: int = Field(default=10_000, ge=100, le=200_000)
    #: At most this many ingest shards (mapped tasks) per run, each loading its credentials one
    #: after another: far below Airflow's ``[core] max_map_length`` (docs/operations.md).
    max_shards: int = Field(default=64, ge=1, le=512)
    marketing: MarketingSettings = MarketingSettings()
    loyalty: LoyaltySettings = LoyaltySettings()
    alerts: AlertSettings = AlertSettings()


class Address(_Strict):
    line1: Text
    line2: OptText = None
    city: Text
    state: Annotated[str, Field(min_length=1, max_length=100)]
    postal_code: Annotated[str, Field(min_length=1, max_length=20)]
    country: Annotated[str, Field(min_length=2, max_length=2)]


class RetailStore(_Strict):
    """Rule 5: an AIQ retail store."""

    id: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]
    name: Text
    nickname: OptText = None
    phone: Text
    email: Text
    venue_id: OptText = None
    address: Address
    email_domain: OptText = None
    disclaimer: OptText = None
    sms_signup: bool = False
    hide_from_selection: bool = False
    timezone: Timezone


class StoreMapping(_Strict):
    """Rule 6: one Trident1 location (credential + location id) → one retail store."""

    credential: CredentialId
    location_id: Text
    store_id: Text


class AiqDiscount(_Strict):
    """Rule 20: an AIQ discount mirroring one Trident1 discount."""

    id: Text
    name: Text
    credential: CredentialId
    trident1_discount_id: Text
    points_cost: int = Field(default=0, ge=0, le=1_000_000)


@dataclass(frozen=True)
class Settings:
    integration: IntegrationSettings
    stores: tuple[RetailStore, ...]
    mappings: tuple[StoreMapping, ...]
    discounts: tuple[AiqDiscount, ...]

    def store(self, store_id: str) -> RetailStore:
        return next(s for s in self.stores if s.id == store_id)

    def mapping_for(self, credential: str) -> dict[str, str]:
        """location_id → store_id for one credential."""
        return {m.location_id: m.store_id for m in self.mappings if m.credential == credential}


_SCHEMAS: dict[str, TypeAdapter[Any]] = {
    VAR_INTEGRATION: TypeAdapter(IntegrationSettings),
    VAR_STORES: TypeAdapter(list[RetailStore]),
    VAR_MAPPINGS: TypeAdapter(list[StoreMapping]),
    VAR_DISCOUNTS: TypeAdapter(list[AiqDiscount]),
}


def _path(variable: str, loc: tuple[Any, ...]) -> str:
    out = variable
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def default_variable_text(name: str, config_dir: Path = DEFAULT_CONFIG_DIR) -> str:
    return (config_dir / f"{name}.json").read_text(encoding="utf-8")


def demo_variables(overrides: dict[str, str | None] | None = None,
                   config_dir: Path = DEFAULT_CONFIG_DIR) -> dict[str, str]:
    """The four Variables as the demo sets them: the files of ``config/``, with ``overrides``.

    Only the demo (``make run``), the sandbox and tests ask for these; a deployment reads
    what Airflow holds, and a Variable it lacks is a configuration error (rule 7).
    """
    texts = {name: default_variable_text(name, config_dir) for name in VARIABLES}
    texts.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return texts


def demo_settings(overrides: dict[str, str | None] | None = None) -> Settings:
    """:func:`load_settings` of :func:`demo_variables` (tests, benchmarks, the sandbox)."""
    return load_settings(demo_variables(overrides))


class UnreadableText(str):
    """A Variable whose stored value could not even be read as text (e.g. bytes that are not UTF-8 in
    the metadata DB, a value that does not decrypt): empty, with the reason, so that every parse of it
    reports it as malformed by name instead of failing (issue 19, item 17)."""

    reason: str

    def __new__(cls, reason: str) -> UnreadableText:
        obj = super().__new__(cls, "")
        obj.reason = reason
        return obj


class _Malformed(ValueError):
    """A hook of the JSON decoder refused what it read (the message says what)."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Malformed(f"key {_describe(key)} appears twice in one object (which one is meant?)")
        out[key] = value
    return out


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_NUMBER_DIGITS:
        raise _Malformed(f"a number of {digits} digits (at most {MAX_NUMBER_DIGITS})")
    return int(text)


def _finite_float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS + 10:
        raise _Malformed(f"a number of {len(text)} characters (at most {MAX_NUMBER_DIGITS + 10})")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Malformed(f"the number {text[:20]} is out of range")
    return value


def _no_constant(text: str) -> Any:
    raise _Malformed(f"{text} is not a number JSON allows")


def _bad_character(text: str) -> str | None:
    """The first character of ``text`` a Variable must not hold, as ``U+XXXX``, or None."""
    found = FORBIDDEN_CHARACTERS.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def _check_tree(name: str, data: Any) -> list[str]:
    """Depth and characters of a parsed value, walked without recursion: nested deeper than
    :data:`MAX_NESTING`, or a key or text holding a character of :data:`FORBIDDEN_CHARACTERS`,
    is refused."""
    problems: list[str] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        value, loc = stack.pop()
        if len(loc) > MAX_NESTING:
            return [f"{name}: malformed: nested deeper than {MAX_NESTING} levels"]
        if isinstance(value, str):
            bad = _bad_character(value)
            if bad:
                problems.append(f"{_path(name, loc)}: text holds the control or bidirectional-override character "
                                f"{bad}; retype it without")
        elif isinstance(value, dict):
            for key, item in value.items():
                bad = _bad_character(key)
                if bad:
                    problems.append(f"{_path(name, loc)}: a key holds the control or bidirectional-override "
                                    f"character {bad}")
                stack.append((item, (*loc, key)))
        elif isinstance(value, list):
            stack.extend((item, (*loc, i)) for i, item in enumerate(value))
    return sorted(problems)


def parse_json_variable(name: str, text: str | bytes) -> Any:
    """The JSON value of Variable (or file) ``name``, or :class:`ConfigError` saying why not.

    The one parser of every Variable and settings file (the DAG, ``config check`` and the
    console use it). Whatever the input — invalid UTF-8, more than :data:`MAX_VARIABLE_BYTES`,
    bad JSON, a key given twice in one object, nesting deeper than :data:`MAX_NESTING` (100,000
    brackets included), a number of more than :data:`MAX_NUMBER_DIGITS` digits, ``NaN``, or text
    holding a control or bidi-override character (:data:`FORBIDDEN_CHARACTERS`) — the answer
    is a ConfigError whose problems name ``name``, never another exception.
    """
    if isinstance(text, UnreadableText):
        raise ConfigError([f"{name}: malformed: the stored value cannot be read ({text.reason})"])
    if isinstance(text, bytes | bytearray):
        if len(text) > MAX_VARIABLE_BYTES:
            raise ConfigError([f"{name}: larger than {MAX_VARIABLE_BYTES} bytes"])
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError([f"{name}: malformed: not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset "
                               f"{exc.start})"]) from None
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ConfigError([f"{name}: malformed: not UTF-8 (a lone surrogate at offset {exc.start})"]) from None
    if size > MAX_VARIABLE_BYTES:
        raise ConfigError([f"{name}: larger than {MAX_VARIABLE_BYTES} bytes"])
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_int=_bounded_int,
                          parse_float=_finite_float, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{name}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]) from None
    except _Malformed as exc:
        raise ConfigError([f"{name}: malformed JSON: {exc}"]) from None
    except RecursionError:
        raise ConfigError([f"{name}: malformed: nested deeper than {MAX_NESTING} levels"]) from None
    except ValueError as exc:  # anything else the decoder refuses
        raise ConfigError([f"{name}: malformed JSON: {str(exc)[:200]}"]) from None
    problems = _check_tree(name, data)
    if problems:
        raise ConfigError(problems)
    return data


def load_settings(raw: dict[str, str | bytes | None]) -> Settings:
    """Parse and cross-check all Variables; raise ConfigError with every problem."""
    problems: list[str] = []
    parsed: dict[str, Any] = {}
    for name in VARIABLES:
        text = raw.get(name)
        if text is None:
            problems.append(f"{name}: the Airflow Variable is not set (rule 7: no fall-back to the demo "
                            f"files; start from config/{name}.json)")
            continue
        try:
            data = parse_json_variable(name, text)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        try:
            parsed[name] = _SCHEMAS[name].validate_python(data)
        except ValidationError as exc:
            for err in exc.errors():
                where = _path(name, err["loc"])
                got = "" if err["type"] == "missing" else f" (got {_describe(err.get('input'))})"
                problems.append(f"{where}: {err['msg']}{got}")
    # Cross-checks run on whatever parsed, so that every problem is reported at once.
    problems.extend(_cross_check(parsed.get(VAR_INTEGRATION), parsed.get(VAR_STORES),
                                 parsed.get(VAR_MAPPINGS) or [], parsed.get(VAR_DISCOUNTS) or []))
    if problems:
        raise ConfigError(problems)
    return Settings(parsed[VAR_INTEGRATION], tuple(parsed[VAR_STORES]), tuple(parsed[VAR_MAPPINGS]),
                    tuple(parsed[VAR_DISCOUNTS]))


def alert_settings(integration_text: str | bytes | None) -> AlertSettings:
    """``trident1_integration.alerts`` read on its own: the alert channel works when the rest of
    the settings are refused (a broken mapping, a missing Variable, another key of
    ``trident1_integration`` invalid) — exactly when an alert matters. ConfigError only when the
    ``alerts`` object itself, or the JSON of ``trident1_integration``, is unreadable."""
    if integration_text is None:
        raise ConfigError([f"{VAR_INTEGRATION}: the Airflow Variable is not set"])
    data = parse_json_variable(VAR_INTEGRATION, integration_text)
    alerts = data.get("alerts", {}) if isinstance(data, dict) else None
    try:
        return TypeAdapter(AlertSettings).validate_python(alerts)
    except ValidationError as exc:
        raise ConfigError([f"{_path(VAR_INTEGRATION, ('alerts', *err['loc']))}: {err['msg']}"
                           for err in exc.errors()]) from None


def _cross_check(
    integration: IntegrationSettings | None,
    stores: list[RetailStore] | None,
    mappings: list[StoreMapping],
    discounts: list[AiqDiscount],
) -> list[str]:
    """Checks across Variables; a check that needs a Variable which did not parse is skipped."""
    problems: list[str] = []
    creds = set(integration.credentials) if integration else None
    seen_creds: set[str] = set()
    for i, cred in enumerate(integration.credentials if integration else []):
        if cred in seen_creds:
            problems.append(f"{VAR_INTEGRATION}.credentials[{i}]: {cred!r} is listed twice")
        seen_creds.add(cred)

    store_ids: set[str] = set()
    for i, store in enumerate(stores or []):
        if store.id in store_ids:
            problems.append(f"{VAR_STORES}[{i}].id: retail store {store.id!r} is defined twice")
        store_ids.add(store.id)

    mapped: dict[tuple[str, str], int] = {}
    for i, m in enumerate(mappings):
        where = f"{VAR_MAPPINGS}[{i}]"
        if stores is not None and m.store_id not in store_ids:
            problems.append(
                f"{where}.store_id: retail store {m.store_id!r} does not exist in {VAR_STORES}"
            )
        if creds is not None and m.credential not in creds:
            problems.append(
                f"{where}.credential: {m.credential!r} is not in {VAR_INTEGRATION}.credentials"
            )
        key = (m.credential, m.location_id)
        if key in mapped:
            problems.append(
                f"{where}: location {m.location_id!r} of {m.credential!r} is already mapped "
                f"by {VAR_MAPPINGS}[{mapped[key]}]"
            )
        else:
            mapped[key] = i

    seen_discounts: dict[str, int] = {}
    seen_sources: dict[tuple[str, str], int] = {}
    for i, d in enumerate(discounts):
        where = f"{VAR_DISCOUNTS}[{i}]"
        if d.id in seen_discounts:
            problems.append(f"{where}.id: AIQ discount {d.id!r} is defined twice")
        seen_discounts.setdefault(d.id, i)
        if creds is not None and d.credential not in creds:
            problems.append(
                f"{where}.credential: {d.credential!r} is not in {VAR_INTEGRATION}.credentials"
            )
        src = (d.credential, d.trident1_discount_id)
        if src in seen_sources:
            problems.append(
                f"{where}.trident1_discount_id: {d.trident1_discount_id!r} is already mirrored "
                f"by {VAR_DISCOUNTS}[{seen_sources[src]}]"
            )
        seen_sources.setdefault(src, i)
    return problems


def check_discount_mirrors(settings: Settings, credential: str, catalogue: list[dict[str, Any]]) -> list[str]:
    """Rule 20: each AIQ discount mirrors a Trident1 discount that exists and is not in-store only."""
    by_id = {str(d.get("id")): d for d in catalogue if isinstance(d, dict)}
    problems = []
    for i, d in enumerate(settings.discounts):
        if d.credential != credential:
            continue
        where = f"{VAR_DISCOUNTS}[{i}].trident1_discount_id"
        source = by_id.get(d.trident1_discount_id)
        if source is None:
            problems.append(f"{where}: {d.trident1_discount_id!r} is not in {credential}'s Trident1 discounts")
        elif source.get("in_store_only"):
            problems.append(f"{where}: {d.trident1_discount_id!r} is an in-store-only Trident1 discount "
                            "and cannot be mirrored in AIQ")
    return problems


def unreported_mapping_warnings(settings: Settings, credential: str, location_ids: set[str]) -> list[str]:
    """Rule 6: a mapping naming a location the credential does not report is allowed (a store
    mapped before it opens) but usually a typo: a warning naming the entry, never an error."""
    warnings = []
    for i, m in enumerate(settings.mappings):
        if m.credential == credential and m.location_id not in location_ids:
            warnings.append(f"warning: {VAR_MAPPINGS}[{i}]: location {m.location_id!r} is not among the locations "
                            f"{credential} reports (a typo? a store not open yet?)")
    return warnings


# --------------------------------------------------------------------------------------
# Connections


@dataclass(frozen=True)
class Trident1Credential:
    """One Trident1 store account, from the Connection ``trident1_<name>``."""

    conn_id: str
    base_url: str
    store_name: str
    api_key: SecretStr

    def __repr__(self) -> str:  # never show the key, even by accident
        return f"Trident1Credential(conn_id={self.conn_id!r}, base_url={self.base_url!r})"


@dataclass(frozen=True)
class GatewayCredential:
    conn_id: str
    base_url: str
    token: SecretStr

    def __repr__(self) -> str:
        return f"GatewayCredential(conn_id={self.conn_id!r}, base_url={self.base_url!r})"


def clean_website(website: str) -> str:
    """Rule 1: a bare host; strip a pasted scheme, path and trailing slashes."""
    host = (website or "").strip()
    host = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", host)
    host = host.split("/", 1)[0]
    return host.strip()


def base_url(host: str, schema: str | None, port: int | None, path: str) -> str:
    bare = clean_website(host)
    scheme = (schema or "https").strip().lower()
    if scheme not in ("http", "https"):
        scheme = "https"
    if ":" in bare and port is None:
        bare, _, port_text = bare.partition(":")
        port = int(port_text) if port_text.isdigit() else None
    netloc = f"{bare}:{port}" if port else bare
    return f"{scheme}://{netloc}{path}"


def trident1_credential(
    conn_id: str,
    *,
    host: str | None,
    schema: str | None,
    port: int | None,
    password: str | None,
    extra: dict[str, Any] | None,
) -> Trident1Credential:
    problems = []
    if not host or not clean_website(host):
        problems.append(f"connection {conn_id}: host (the Trident1 website) is empty")
    if not password:
        problems.append(f"connection {conn_id}: password (the API key) is empty")
    store_name = str((extra or {}).get("store_name") or "").strip()
    if not store_name:
        problems.append(f'connection {conn_id}: extra needs {{"store_name": "..."}}')
    if problems:
        raise ConfigError(problems)
    return Trident1Credential(
        conn_id=conn_id,
        base_url=base_url(host or "", schema, port, "/api/v1"),
        store_name=store_name,
        api_key=SecretStr(password or ""),
    )


def gateway_credential(
    conn_id: str, *, host: str | None, schema: str | None, port: int | None, password: str | None
) -> GatewayCredential:
    if not host or not password:
        raise ConfigError([f"connection {conn_id}: host and password (the token) are required"])
    return GatewayCredential(
        conn_id=conn_id, base_url=base_url(host, schema, port, "/v1"), token=SecretStr(password)
    )
