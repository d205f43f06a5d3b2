"""App factory, health check and error pages (never a traceback in the body)."""
from flask import Blueprint


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json["status"] == "ok"


def test_404_page_is_html_with_lang(client):
    r = client.get("/no/such/page")
    assert r.status_code == 404
    assert b"<html lang=" in r.data


def test_api_errors_are_json(client):
    r = client.get("/api/no-such-thing")
    assert r.status_code == 404 and r.json["status"] == 404


def test_500_body_has_no_traceback(settings, repo):
    from web.app import create_app

    app = create_app(settings, repo)
    bp = Blueprint("boom", __name__)

    @bp.get("/boom")
    def boom():
        raise ZeroDivisionError("secret internal detail")

    app.register_blueprint(bp)
    r = app.test_client().get("/boom")
    assert r.status_code == 500
    body = r.get_data(as_text=True)
    assert "Traceback" not in body and "secret internal detail" not in body and "ZeroDivisionError" not in body


def test_413_when_upload_exceeds_limit(settings, repo):
    from web.app import create_app

    app = create_app(settings.replace(max_upload_bytes=2048), repo)
    app.config["WTF_CSRF_ENABLED"] = False
    r = app.test_client().post("/healthz", data=b"x" * 5000, content_type="application/octet-stream")
    assert r.status_code in (413, 405)


def test_language_switch_sets_cookie_and_refuses_open_redirect(client):
    r = client.get("/lang/en?next=//evil.example")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert "lang=en" in r.headers["Set-Cookie"]
