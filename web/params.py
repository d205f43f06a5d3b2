"""Small request/template helpers shared by the blueprints."""
from __future__ import annotations

from flask import request
from flask_babel import gettext as _

from config import InvalidInput


def int_arg(name: str, default: int, low: int = 1, high: int = 10_000) -> int:
    """A whole-number query parameter within [low, high], or :class:`InvalidInput` (400) naming it."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(_("The parameter %(name)s must be a whole number, got “%(value)s”.",
                             name=name, value=raw[:40]), field=name) from None
    if not low <= value <= high:
        raise InvalidInput(_("The parameter %(name)s must be between %(low)s and %(high)s.",
                             name=name, low=low, high=high), field=name)
    return value


def clock(seconds: float | None) -> str:
    """Seconds as ``h:mm:ss``, or ``m:ss`` under an hour (transcript lines, hit times)."""
    s = int(seconds or 0)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
