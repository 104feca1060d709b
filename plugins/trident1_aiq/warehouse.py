"""The warehouse: one SQLAlchemy engine, versioned migrations, and SQL from files.

All SQL lives in ``include/sql`` and is named ``<folder>/<query>`` (``load/lock``).
A query is either a file of its own, ``<folder>/<query>.sql`` (migrations, the merges
and the statements ``benchmarks/explain.py`` EXPLAINs), or a ``-- name: <query>``
section of its folder's ``queries.sql``. Either may have a dialect variant, used
instead on that database: ``<query>.postgresql.sql`` next to the file, or a section
of the same name in ``queries.postgresql.sql``; everything else is shared. A
section with no statement (only a comment saying why) runs nothing on that
database. Parameters use SQLAlchemy's ``:name`` style. On SQLite, ``Decimal``, ``date`` and ``datetime`` parameters are bound as
canonical text (``datetime`` always UTC with microseconds, so text order is time
order); on PostgreSQL they go as native types.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlparse
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url

from trident1_aiq.logs import get_logger
from trident1_aiq.paths import SQL_DIR

log = get_logger(__name__)

COPY_RE = re.compile(r"^\s*COPY\s+\w+\s*\(([^)]*)\)\s+FROM\s+STDIN\s*$", re.IGNORECASE | re.DOTALL)


def utcnow() -> datetime:
    return datetime.now(UTC)


DIALECTS = ("sqlite", "postgresql")
SECTIONS = "queries"  # <folder>/queries.sql holds the folder's named sections
SECTION_RE = re.compile(r"^--[ \t]*name:[ \t]*(\S+)[ \t]*$", re.MULTILINE)


class UnknownQuery(KeyError):
    """A query name that names no file and no section (a typo fails here, and in the suite)."""


def read_sections(path: Path) -> dict[str, str]:
    """The ``-- name: <query>`` sections of a file, each up to the next one ({} when absent)."""
    if not path.exists():
        return {}
    parts = SECTION_RE.split(path.read_text(encoding="utf-8"))
    sections: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in sections:
            raise ValueError(f"{path}: query {name!r} is defined twice")
        sections[name] = body.strip()
    return sections


@lru_cache(maxsize=1024)
def sql_text(name: str, dialect: str, sql_dir: Path = SQL_DIR) -> str:
    """The SQL of query ``name`` on ``dialect`` (resolved once per process)."""
    folder, _, query = name.rpartition("/")
    base = sql_dir / folder if folder else sql_dir
    files = [base / f"{query}.{dialect}.sql", base / f"{query}.sql"]
    sections = [read_sections(base / f"{SECTIONS}.{dialect}.sql"), read_sections(base / f"{SECTIONS}.sql")]
    in_files = [f for f in files if f.exists()]
    in_sections = [s[query] for s in sections if query in s]
    if in_files and in_sections:
        raise ValueError(f"query {name!r} is both a file and a section of {folder}/{SECTIONS}.sql: keep one")
    if in_files:
        return in_files[0].read_text(encoding="utf-8")
    if in_sections:
        return in_sections[0]
    raise UnknownQuery(f"no SQL named {name!r}: neither {folder}/{query}.sql nor a `-- name: {query}` "
                       f"section of {folder}/{SECTIONS}.sql under {sql_dir}")


@lru_cache(maxsize=512)
def split_statements(script: str) -> tuple[str, ...]:
    """The statements of a script, comments stripped (parsed once per script: sqlparse is slow)."""
    out = []
    for stmt in sqlparse.split(script):
        body = sqlparse.format(stmt, strip_comments=True).strip().rstrip(";").strip()
        if body:
            out.append(body)
    return tuple(out)


@lru_cache(maxsize=512)
def _text(statement: str):
    return text(statement)


def db_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")


def parse_db_time(value: Any) -> datetime | None:
    """A timestamp read back from either database, as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)


def as_decimal(value: Any, places: str = "0.01") -> Decimal | None:
    """Money read back from either database (SQLite returns REAL): exact Decimal."""
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal(places))


class Warehouse:
    def __init__(self, url: str | URL, *, sql_dir: Path = SQL_DIR, echo: bool = False):
        self.url = make_url(url) if isinstance(url, str) else url
        self.dialect = self.url.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported warehouse database {self.dialect!r} (use postgresql or sqlite)")
        self.sql_dir = sql_dir
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"timeout": 60}
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # pysqlite's own transaction handling is off: SQLAlchemy's BEGIN rules.
            event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))

    def __repr__(self) -> str:
        return f"Warehouse({self.safe_url})"

    @property
    def safe_url(self) -> str:
        """The URL for logs: the password, and query parameters that name one (``sslpassword``), masked."""
        hidden = {k: "hidden" for k in self.url.query if "password" in k.lower()}
        return self.url.update_query_dict(hidden).render_as_string(hide_password=True)

    # ------------------------------------------------------------------ SQL
    def sql(self, name: str) -> str:
        return sql_text(name, self.dialect, self.sql_dir)

    def bind(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if self.dialect != "sqlite":
            return dict(params)
        out = {}
        for k, v in params.items():
            if isinstance(v, Decimal):
                v = str(v)
            elif isinstance(v, datetime):
                v = db_time(v)
            elif isinstance(v, date):
                v = v.isoformat()
            out[k] = v
        return out

    def run(self, conn: Connection, name: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None):
        """Execute every statement of query ``name`` (see the module's docstring); return the last result."""
        result = None
        for stmt in split_statements(self.sql(name)):
            result = self.execute(conn, stmt, params)
        return result

    def execute(self, conn: Connection, statement: str, params: Any = None):
        statement = _text(statement)
        if params is None:
            return conn.execute(statement)
        if isinstance(params, Mapping):
            return conn.execute(statement, self.bind(params))
        rows = [self.bind(p) for p in params]
        if not rows:
            return None
        return conn.execute(statement, rows)

    def bulk(self, conn: Connection, name: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Write many rows with query ``name``, the fastest way each database has.

        On PostgreSQL the file holds one ``COPY table (columns) FROM STDIN`` (psycopg 3
        ``copy`` with ``write_row``, values in that column order), optionally after
        statements that prepare a staging table and before statements that apply it
        (e.g. an ``INSERT … SELECT … ON CONFLICT``); a row carrying a column the COPY list
        does not name is refused, not silently dropped. Elsewhere its last statement is an
        ``INSERT … VALUES (:named, …)`` run by the driver's ``executemany``, after the
        statements before it. Either way inside the caller's transaction.
        """
        if not rows:
            return 0
        statements = split_statements(self.sql(name))
        dbapi = conn.connection.driver_connection
        if self.dialect != "postgresql":
            for stmt in statements[:-1]:
                conn.execute(_text(stmt))
            dbapi.executemany(statements[-1], [self.bind(r) for r in rows])
            return len(rows)
        copies = [i for i, stmt in enumerate(statements) if COPY_RE.match(stmt)]
        if len(copies) != 1:
            raise ValueError(f"{name}: the PostgreSQL variant needs one COPY table (columns) FROM STDIN")
        at = copies[0]
        for stmt in statements[:at]:
            conn.execute(_text(stmt))
        columns = [c.strip() for c in COPY_RE.match(statements[at]).group(1).split(",")]
        unwritten = set(rows[0]) - set(columns)
        if unwritten:  # COPY would silently drop them (ingest/schema.py declares each table's columns once)
            raise ValueError(f"{name}: rows carry {sorted(unwritten)}, which its COPY column list does not write")
        values = operator.itemgetter(*columns) if len(columns) > 1 else (lambda r, c=columns[0]: (r[c],))
        with dbapi.cursor() as cur, cur.copy(statements[at]) as copy:
            for row in rows:
                copy.write_row(values(row))
        for stmt in statements[at + 1:]:
            conn.execute(_text(stmt))
        return len(rows)

    def query(self, conn: Connection, name: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        result = self.run(conn, name, params or {})
        return [dict(r._mapping) for r in result] if result is not None else []

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # ------------------------------------------------------------ migrations
    def migrations(self) -> list[tuple[int, str, Path]]:
        found = []
        for path in sorted((self.sql_dir / "migrations").glob("[0-9][0-9][0-9]_*.sql")):
            if path.name.count(".") > 1:  # dialect variants are picked by sql_text
                continue
            found.append((int(path.name[:3]), path.stem, path))
        return found

    def migrate(self) -> list[str]:
        """Apply pending migrations in order, each in its own transaction; idempotent."""
        applied: list[str] = []
        with self.begin() as conn:
            self.run(conn, "bootstrap")
        for version, name, _path in self.migrations():
            with self.begin() as conn:
                if self.dialect == "postgresql":  # two workers migrating at once: one waits
                    conn.execute(text("SELECT pg_advisory_xact_lock(7345901)"))
                done = conn.execute(
                    text("SELECT 1 FROM schema_migrations WHERE version = :v"), {"v": version}
                ).first()
                if done:
                    continue
                self.run(conn, f"migrations/{name}")
                self.execute(
                    conn,
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, :n, :t)",
                    {"v": version, "n": name, "t": utcnow()},
                )
                applied.append(name)
                log.info("applied migration %s", name)
        return applied

    def pending_migrations(self) -> list[str]:
        """The migrations not applied yet, read without writing anything (a SQLite file that does not
        exist is not created): what a reader such as the console checks instead of migrating."""
        from sqlalchemy import inspect

        names = [(version, name) for version, name, _path in self.migrations()]
        database = self.url.database
        if self.dialect == "sqlite" and database and database != ":memory:" and not Path(database).exists():
            return [name for _v, name in names]
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("schema_migrations"):
                return [name for _v, name in names]
            done = {int(r[0]) for r in conn.execute(text("SELECT version FROM schema_migrations"))}
            conn.rollback()
        return [name for version, name in names if version not in done]

    def tables(self) -> dict[str, list[str]]:
        """Tables and views with their columns (for docs checks and tests)."""
        from sqlalchemy import inspect

        insp = inspect(self.engine)
        names = list(insp.get_table_names()) + list(insp.get_view_names())
        return {n: [c["name"] for c in insp.get_columns(n)] for n in sorted(names)}

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" listener issue BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"
