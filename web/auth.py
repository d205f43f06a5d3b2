"""Staff login (Flask-Login): `/admin/login`, `/admin/logout`, the viewer of each request.

* Passwords are checked with :func:`repository.catalog.check_password` (werkzeug hashes).
* Rate limiting: a user name is locked for ``LOGIN_LOCK_MINUTES`` after ``LOGIN_MAX_FAILURES``
  wrong passwords in a row (``User.failed_logins`` / ``User.locked_until``, so every process and
  every worker sees it); an IP address is refused for the same time after
  ``LOGIN_MAX_IP_FAILURES`` failures within the window (kept per app in memory: an attacker
  spraying many user names from one address is slowed down without a table of its own).
* Cookies: HttpOnly, SameSite=Lax and — with ``HERITAGE_SECURE_COOKIES`` — Secure (set by the
  app factory); the session is refreshed on login (Flask-Login ``session_protection="strong"``).
* :func:`current_viewer` is what ``web.app`` puts in ``flask.g.viewer`` for every request.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from datetime import timedelta
from functools import wraps
from typing import Any, Callable
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from config import Forbidden
from repository import catalog
from repository.access import Viewer
from repository.models import User, utcnow

bp = Blueprint("auth", __name__, url_prefix="/admin")

LOGIN_MAX_FAILURES = 5
LOGIN_MAX_IP_FAILURES = 20
LOGIN_LOCK_MINUTES = 15


class StaffUser(UserMixin):
    """What Flask-Login keeps for a logged-in person: a detached snapshot, never an ORM row."""

    def __init__(self, user: User):
        self.id = user.id
        self.name = user.name
        self.role = user.role
        self.institution_id = user.institution_id
        self.active = user.active

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def viewer(self) -> Viewer:
        return Viewer(self.id, self.role, self.institution_id, self.name)


class IpThrottle:
    """Failures per client address within a sliding window (thread-safe, per app)."""

    def __init__(self, limit: int, window_seconds: float):
        self.limit = limit
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, ip: str, now: float) -> deque[float]:
        q = self._failures[ip]
        while q and q[0] < now - self.window:
            q.popleft()
        return q

    def blocked(self, ip: str) -> bool:
        with self._lock:
            return len(self._trim(ip, time.monotonic())) >= self.limit

    def fail(self, ip: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._trim(ip, now).append(now)

    def reset(self, ip: str) -> None:
        with self._lock:
            self._failures.pop(ip, None)


class LoginForm(FlaskForm):
    name = StringField(_l("User name"), validators=[DataRequired(), Length(max=100)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=500)])


def _repo():
    from web.app import repo_of

    return repo_of()


@bp.record_once
def _setup(state) -> None:
    from web.app import repo_of

    app = state.app
    manager = LoginManager()
    manager.login_view = "auth.login"
    manager.login_message = _l("Please log in to use the archivists' workspace.")
    manager.session_protection = "strong"
    manager.init_app(app)
    app.config.setdefault("LOGIN_MAX_FAILURES", LOGIN_MAX_FAILURES)
    app.config.setdefault("LOGIN_MAX_IP_FAILURES", LOGIN_MAX_IP_FAILURES)
    app.config.setdefault("LOGIN_LOCK_MINUTES", LOGIN_LOCK_MINUTES)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    app.extensions["heritage_ip_throttle"] = IpThrottle(
        app.config["LOGIN_MAX_IP_FAILURES"], app.config["LOGIN_LOCK_MINUTES"] * 60)

    @manager.user_loader
    def _load(user_id: str) -> StaffUser | None:
        try:
            uid = int(user_id)
        except (TypeError, ValueError):
            return None
        with repo_of(app).session() as s:
            user = s.get(User, uid)
            return StaffUser(user) if user is not None and user.active else None

    @app.after_request
    def _no_store(resp):
        # staff pages must not be kept by shared caches or the back button after logout
        if request.path.startswith("/admin"):
            resp.headers.setdefault("Cache-Control", "no-store")
            resp.headers.setdefault("X-Frame-Options", "DENY")
        return resp


def current_viewer() -> Viewer:
    """The viewer of this request: the logged-in staff member, else anonymous."""
    if "heritage_ip_throttle" not in current_app.extensions:  # auth not installed
        return Viewer.anonymous()
    user = current_user
    if user is not None and getattr(user, "is_authenticated", False):
        return user.viewer
    return Viewer.anonymous()


def staff_required(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Route decorator: logged-in staff only (else to the login page)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any):
        if not g.viewer.is_staff:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return fn(*args, **kwargs)

    return wrapper


def admin_required(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Route decorator: administrators only (403 for archivists)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any):
        if not g.viewer.is_staff:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if not g.viewer.is_admin:
            raise Forbidden(_("Only administrators may do this."))
        return fn(*args, **kwargs)

    return wrapper


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else (other hosts, //evil) → the dashboard."""
    default = url_for("admin.dashboard") if "admin.dashboard" in current_app.view_functions else "/"
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def client_ip() -> str:
    return request.remote_addr or "unknown"


def attempt_login(name: str, password: str) -> tuple[User | None, str | None]:
    """Check a login; returns (user, None) or (None, message). Updates the lock counters."""
    cfg = current_app.config
    throttle: IpThrottle = current_app.extensions["heritage_ip_throttle"]
    ip = client_ip()
    minutes = cfg["LOGIN_LOCK_MINUTES"]
    if throttle.blocked(ip):
        return None, _("Too many failed logins from your address. Try again in %(m)s minutes.", m=minutes)
    generic = _("Wrong user name or password.")
    with _repo().unit_of_work(f"login:{name[:80]}") as uow:
        user = uow.session.scalar(select(User).where(User.name == name))
        now = utcnow()
        if user is None:
            throttle.fail(ip)
            # same work as a real check so response time does not reveal which names exist
            catalog.check_password(User(password_hash=_dummy_hash()), password)
            return None, generic
        if user.locked_until is not None and user.locked_until > now:
            throttle.fail(ip)
            return None, _("This account is locked after too many failed logins. Try again in %(m)s minutes.",
                           m=minutes)
        if not user.active:
            throttle.fail(ip)
            return None, _("This account is disabled. Ask an administrator.")
        if not catalog.check_password(user, password):
            throttle.fail(ip)
            user.failed_logins = (user.failed_logins or 0) + 1
            if user.failed_logins >= cfg["LOGIN_MAX_FAILURES"]:
                user.locked_until = now + timedelta(minutes=minutes)
                user.failed_logins = 0
                uow.event("authentication", detail={"user": user.name, "outcome": "locked", "ip": ip},
                          outcome="failure")
                return None, _("This account is locked after too many failed logins. Try again in %(m)s minutes.",
                               m=minutes)
            return None, generic
        user.failed_logins = 0
        user.locked_until = None
        uow.session.flush()
        uow.session.expunge(user)
    throttle.reset(ip)
    return user, None


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        from werkzeug.security import generate_password_hash

        _DUMMY.append(generate_password_hash("not a real password"))
    return _DUMMY[0]


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The staff login form."""
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        user, error = attempt_login(form.name.data.strip(), form.password.data)
        if user is not None:
            session.clear()  # a fresh session on login (no fixation)
            login_user(StaffUser(user))
            return redirect(safe_next(request.args.get("next")))
        status = 401 if error else 400
    elif request.method == "POST":
        status = 400
    return render_template("admin/login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST", "GET"])
def logout():
    """End the session. GET shows a confirmation form (logging out must not be a cross-site link)."""
    if request.method == "GET":
        return render_template("admin/logout.html", form=FlaskForm())
    logout_user()
    session.clear()
    flash(_("You are logged out."))
    return redirect(url_for("auth.login"))
