"""Strings shown in the UI that the code looks up at run time, so `pybabel extract` cannot see them.

Never imported: this file exists only so that extraction (babel.cfg scans `web/**.py`) puts these
msgids into messages.pot and `pybabel update` keeps their translations active instead of marking
them obsolete. Keep it in step with `web.errors.TITLES` (tests/web/test_translations.py checks).
"""


def _(s: str) -> str:  # extraction marker only
    return s


ERROR_TITLES = [
    _("Bad request"),
    _("Forbidden"),
    _("Not found"),
    _("Method not allowed"),
    _("Too large"),
    _("Range not satisfiable"),
    _("Something went wrong"),
    _("Not implemented"),
    _("Temporarily unavailable"),
    _("Error"),
]
