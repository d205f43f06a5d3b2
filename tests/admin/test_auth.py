"""Login, logout, roles, rate limiting, CSRF and cookie flags of the workspace."""
from __future__ import annotations

from sqlalchemy import select

from repository.models import User
from tests.admin.conftest import PASSWORD, Staff, csrf_of


def test_admin_pages_need_login(client, staff):
    r = client.get("/admin/items")
    assert r.status_code == 302 and "/admin/login" in r.headers["Location"]
    r = client.get("/admin/jobs.json")
    assert r.status_code == 401 and r.json["status"] == 401


def test_login_sets_viewer_and_logout_ends_it(as_staff, app):
    s = as_staff("ada")
    r = s.get("/admin/")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert "ada" in body and "archivist" in body
    r = s.post("/admin/logout")
    assert r.status_code == 302
    assert s.get("/admin/").status_code == 302


def test_wrong_password_is_refused_with_a_message(as_staff):
    s = as_staff()
    r = s.login("ada", "wrong password!!")
    assert r.status_code == 401
    assert "Wrong user name or password" in r.get_data(as_text=True)
    r = s.login("nobody-here", "wrong password!!")
    assert r.status_code == 401
    assert "Wrong user name or password" in r.get_data(as_text=True)


def test_login_without_or_with_wrong_csrf_is_400(client, staff):
    r = client.post("/admin/login", data={"name": "ada", "password": PASSWORD})
    assert r.status_code == 400
    client.get("/admin/login")
    r = client.post("/admin/login", data={"name": "ada", "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 400
    assert client.get("/admin/").status_code == 302  # still not logged in


def test_account_locks_after_repeated_failures(as_staff, staff):
    s = as_staff()
    for _ in range(5):
        s.login("ada", "not the password")
    r = s.login("ada")  # right password, but locked now
    assert r.status_code == 401
    assert "locked" in r.get_data(as_text=True)
    with staff.session() as db:
        user = db.scalar(select(User).where(User.name == "ada"))
        assert user.locked_until is not None


def test_ip_is_throttled_across_user_names(app, as_staff):
    app.config["LOGIN_MAX_IP_FAILURES"] = 3
    app.extensions["heritage_ip_throttle"].limit = 3
    s = as_staff()
    for name in ("x1", "x2", "x3"):
        s.login(name, "whatever-password")
    r = s.login("root")
    assert r.status_code == 401 and "Too many failed logins" in r.get_data(as_text=True)


def test_archivist_cannot_reach_admin_only_pages(as_staff):
    s = as_staff("ada")
    assert s.get("/admin/users").status_code == 403
    assert as_staff("root").get("/admin/users").status_code == 200


def test_session_cookie_flags(app, staff):
    s = Staff(app.test_client())
    page = s.client.get("/admin/login")
    r = s.client.post("/admin/login", data={"name": "ada", "password": PASSWORD,
                                             "csrf_token": csrf_of(page.get_data(as_text=True))})
    cookie = r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookie_flag_when_configured(settings, repo):
    from web.app import create_app

    app = create_app(settings.replace(secure_cookies=True), repo)
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_next_parameter_cannot_redirect_off_site(app, staff):
    s = Staff(app.test_client())
    page = s.client.get("/admin/login?next=//evil.example/x")
    r = s.client.post("/admin/login?next=//evil.example/x", data={
        "name": "ada", "password": PASSWORD, "csrf_token": csrf_of(page.get_data(as_text=True))})
    assert r.status_code == 302 and "evil" not in r.headers["Location"]


def test_disabled_user_is_logged_out(as_staff, staff):
    s = as_staff("ada")
    with staff.unit_of_work("test") as uow:
        uow.session.scalar(select(User).where(User.name == "ada")).active = False
    assert s.get("/admin/").status_code == 302
