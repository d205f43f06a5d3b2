"""Settings: defaults, TOML file, environment; a wrong setting names itself."""
import pytest

from config import ConfigError, load_settings


def test_defaults_are_the_embedded_mode():
    s = load_settings({})
    assert s.search == "whoosh"
    assert s.effective_database_url.startswith("sqlite:///")
    assert s.ocr_languages == "auto"


def test_environment_overrides_toml_file(tmp_path):
    toml = tmp_path / "h.toml"
    toml.write_text('search = "elasticsearch"\nmax_upload_bytes = 2048\n')
    s = load_settings({"HERITAGE_CONFIG": str(toml), "HERITAGE_MAX_UPLOAD_BYTES": "4096"})
    assert s.search == "elasticsearch"
    assert s.max_upload_bytes == 4096


@pytest.mark.parametrize("env, named", [
    ({"HERITAGE_SEARCH": "solr"}, "HERITAGE_SEARCH"),
    ({"HERITAGE_DATABASE_URL": "::not a url"}, "HERITAGE_DATABASE_URL"),
    ({"HERITAGE_DATABASE_URL": "mysql://x/y"}, "HERITAGE_DATABASE_URL"),
    ({"HERITAGE_MAX_UPLOAD_BYTES": "lots"}, "HERITAGE_MAX_UPLOAD_BYTES"),
    ({"HERITAGE_OCR_LANGUAGES": "klingon"}, "HERITAGE_OCR_LANGUAGES"),
    ({"HERITAGE_OCR_LANGUAGES": "auto+chi_tra"}, "HERITAGE_OCR_LANGUAGES"),
    ({"HERITAGE_SECURE_COOKIES": "perhaps"}, "HERITAGE_SECURE_COOKIES"),
    ({"HERITAGE_ELASTICSEARCH_URL": "localhost:9200"}, "HERITAGE_ELASTICSEARCH_URL"),
    ({"HERITAGE_CONFIG": "/nonexistent/h.toml"}, "HERITAGE_CONFIG"),
    ({"HERITAGE_ADMIN_EMAIL": "admin@localhost"}, "HERITAGE_ADMIN_EMAIL"),
])
def test_a_wrong_setting_fails_naming_the_setting(env, named):
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert str(info.value).startswith(named)
    assert "\n" not in str(info.value)


def test_unknown_key_in_toml_is_refused(tmp_path):
    toml = tmp_path / "h.toml"
    toml.write_text('serch = "whoosh"\n')
    with pytest.raises(ConfigError, match="unknown setting 'serch'"):
        load_settings({"HERITAGE_CONFIG": str(toml)})


def test_broken_toml_is_refused(tmp_path):
    toml = tmp_path / "h.toml"
    toml.write_text('search = \n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"HERITAGE_CONFIG": str(toml)})
