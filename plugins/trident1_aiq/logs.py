"""Logging that no value can forge a line of (issue 19, item 19).

Values from Trident1's API, the Variables or a form (a ``location_id``, a store name, an error
text) reach the logs. A newline, a carriage return, an ANSI escape or a bidi override in one
would write a fake log line or hide a real one. Every module logs through :func:`get_logger`,
whose filter escapes the non-printable characters of each argument (``\\n`` → ``\\\\n``, ESC →
``\\\\x1b``, U+202E → ``\\\\u202e``); call sites quote values with ``%r`` or :func:`quoted`.
Multi-line text the project built itself (the run report), whose values it escaped with
:func:`printable`, is passed as :class:`Lines` and keeps its newlines.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every non-printable character (controls, bidi marks, lone surrogates) escaped
    as Python writes it; newlines kept when asked."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or (keep_newlines and ch == "\n")
                   else ch.encode("unicode_escape", "backslashreplace").decode("ascii") for ch in text)


def quoted(value: Any) -> str:
    """A value for a log line: in double quotes, its quotes and non-printable characters escaped."""
    return '"' + printable(str(value).replace("\\", "\\\\").replace('"', '\\"')) + '"'


class Lines(str):
    """Multi-line text this project wrote, each value in it already :func:`printable`: logged with
    its newlines (anything else non-printable in it is still escaped)."""


class _Printable:
    """An argument that is neither text nor a number: printed escaped, whatever ``%s``/``%r`` asks."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:
        return printable(str(self.value))

    def __repr__(self) -> str:
        return printable(repr(self.value))


class _Escaped(str):
    """Text escaped for ``%s``, and for ``%r`` its own ``repr`` (which escapes the same characters once)."""

    def __repr__(self) -> str:
        return self.quoted

    @classmethod
    def of(cls, text: str, *, keep_newlines: bool = False) -> _Escaped:
        out = cls(printable(text, keep_newlines=keep_newlines))
        out.quoted = printable(repr(str(text)))
        return out


def _safe(arg: Any) -> Any:
    if isinstance(arg, Lines):
        return _Escaped.of(arg, keep_newlines=True)
    if isinstance(arg, str):
        return _Escaped.of(arg)
    if arg is None or isinstance(arg, bool | int | float | Decimal):
        return arg
    return _Printable(arg)


class PrintableArguments(logging.Filter):
    """Escapes the non-printable characters of a record's arguments (of its message when it has
    none: then the message is the value). The format string is the project's own."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            if isinstance(record.args, Mapping):
                record.args = {k: _safe(v) for k, v in record.args.items()}
            else:
                record.args = tuple(_safe(a) for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = _safe(record.msg)
        else:
            record.msg = _Printable(record.msg)
        return True


_FILTER = PrintableArguments()


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with :class:`PrintableArguments`: what every module logs through."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger
