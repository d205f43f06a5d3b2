"""Settings for the Lingnan Heritage Repository.

Defaults live in code (:class:`Settings`), an optional TOML file overrides them, and
``HERITAGE_*`` environment variables override both. :func:`load_settings` validates every value
and raises :class:`ConfigError` naming the offending setting.
"""
from config.errors import (  # noqa: F401  (re-exported for every layer)
    ConfigError,
    Conflict,
    Forbidden,
    HeritageError,
    InvalidInput,
    NotFound,
    TooLarge,
    Unavailable,
)
from config.settings import Settings, load_settings  # noqa: F401
