"""Exceptions shared by every layer.

Each carries a message a person can act on. ``web`` turns them into 4xx/5xx pages or JSON using
``status``; the CLI prints ``message`` on one line and exits non-zero.
"""
from __future__ import annotations


class HeritageError(Exception):
    """Base class: an error whose message is fit to show to a user."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:  # one line, always
        return " ".join(self.message.split())


class ConfigError(HeritageError):
    """A setting is wrong; the message names the setting."""

    status = 500


class InvalidInput(HeritageError):
    """The request, file, form field or argument is not acceptable."""

    status = 400


class Forbidden(HeritageError):
    status = 403


class NotFound(HeritageError):
    status = 404


class Conflict(HeritageError):
    status = 409


class TooLarge(HeritageError):
    status = 413


class Unavailable(HeritageError):
    """A service the request needs (search cluster, database) is temporarily unreachable."""

    status = 503
