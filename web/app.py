"""The Flask application factory."""
from __future__ import annotations

import importlib
import secrets
from pathlib import Path

from flask import Flask, g, request
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from config import Settings, load_settings
from repository import Repository
from repository.access import Viewer

#: Every blueprint of the site, as "module:attribute". Registered in this order.
BLUEPRINTS: tuple[str, ...] = (
    "web.core:bp",
    "web.media:bp",
    "web.auth:bp",
    "web.admin:bp",
    "web.iiif:bp",
    "web.public:bp",
    "web.api:bp",
    "web.oai:bp",
    "web.search_api:bp",
)

LOCALES = {"zh_Hant": "zh-Hant", "zh_Hans": "zh-Hans", "en": "en"}


def _secret_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def select_locale() -> str:
    """?lang= beats the cookie, which beats the browser's Accept-Language."""
    from flask import current_app

    wanted = request.args.get("lang") or request.cookies.get("lang")
    if wanted in LOCALES:
        return wanted
    best = request.accept_languages.best_match(["zh-Hant", "zh-TW", "zh-HK", "zh-Hans", "zh-CN", "zh", "en"])
    if best in ("zh-Hans", "zh-CN"):
        return "zh_Hans"
    if best == "en":
        return "en"
    if best:
        return "zh_Hant"
    return current_app.config["HERITAGE"].default_locale


def create_app(settings: Settings | None = None, repo: Repository | None = None) -> Flask:
    """Build the web application for ``settings`` (default: from the environment)."""
    settings = settings or load_settings()
    repo = repo or Repository.open(settings, create=True)
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.config.update(
        HERITAGE=settings,
        SECRET_KEY=_secret_key(settings),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        BABEL_DEFAULT_LOCALE=settings.default_locale,
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).with_name("translations")),
        WTF_CSRF_TIME_LIMIT=None,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False
    app.extensions["heritage"] = repo
    Babel(app, locale_selector=select_locale)
    CSRFProtect(app)

    @app.before_request
    def _viewer() -> None:
        from web.auth import current_viewer  # Flask-Login user → Viewer (anonymous when logged out)

        g.viewer = current_viewer()

    @app.context_processor
    def _template_globals() -> dict:
        from flask_babel import get_locale

        loc = str(get_locale() or settings.default_locale)
        return {"html_lang": LOCALES.get(loc, "zh-Hant"), "locale": loc, "locales": LOCALES}

    for spec in BLUEPRINTS:
        module, attr = spec.split(":")
        app.register_blueprint(getattr(importlib.import_module(module), attr))

    from web.errors import install_error_handlers

    install_error_handlers(app)
    return app


def repo_of(app: Flask | None = None) -> Repository:
    """The repository of the running app."""
    from flask import current_app

    return (app or current_app).extensions["heritage"]
