"""Settings: defaults, checks, and the one-line refusal to start."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vamo.core.config import OPTIONS, ConfigError, load_config, settings_markdown

CONFIGURATION_DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def test_defaults_are_the_production_values():
    config = load_config({})
    assert config.database_url == ""
    assert config.site_url == "https://addons.mozilla.org"
    assert config.vamo_url == "https://versioncheck.addons.mozilla.org"
    assert config.addons_url == "https://addons.cdn.mozilla.net/user-media/addons"
    assert config.refresh_seconds == 5
    assert config.port == 8000
    assert config.migrated_themes is True
    assert config.rdf_apps == frozenset()  # the format follows the client (D4)
    assert config.statsd_host == ""


def test_values_are_parsed():
    config = load_config({
        "VAMO_REFRESH_SECONDS": "0.5", "PORT": "9000", "VAMO_MIGRATED_THEMES": "off",
        "VAMO_RDF_APPS": "thunderbird, 59", "VAMO_SITE_URL": "http://amo.test:8080/",
        "VAMO_VERSIONCHECK_HOSTS": "VC.example.com, vc2.example.com:8443",
    })
    assert config.refresh_seconds == 0.5
    assert config.port == 9000
    assert config.migrated_themes is False
    assert config.rdf_apps == {18, 59}
    assert config.site_url == "http://amo.test:8080"
    assert config.versioncheck_hosts == ("vc.example.com", "vc2.example.com:8443")


@pytest.mark.parametrize("name, value, reason", [
    ("VAMO_REFRESH_SECONDS", "soon", "expected a number"),
    ("VAMO_REFRESH_SECONDS", "0", "expected a number >= 0.1"),
    ("VAMO_REFRESH_SECONDS", "nan", "expected a number"),
    ("PORT", "70000", "port number"),
    ("PORT", "http", "expected a number"),
    ("VAMO_CACHE_SIZE", "-1", "expected a number >= 0"),
    ("VAMO_MIGRATED_THEMES", "maybe", "expected on/off"),
    ("VAMO_RDF_APPS", "firefox,netscape", "unknown application 'netscape'"),
    ("VAMO_SITE_URL", "addons.mozilla.org", "absolute http"),
    ("VAMO_SITE_URL", "javascript:alert(1)", "absolute http"),
    ("VAMO_ADDONS_URL", "https://cdn.example/x?y=1", "without query"),
    ("VAMO_SITE_URL", "https://b\u00fccher.example", "expected an ASCII URL"),
    ("VAMO_REDIRECT_MAX_AGE", "-1", "expected a number >= 0"),
    ("VAMO_DATABASE_URL", "postgres://x/y", "expected a mysql://"),
    ("VAMO_DATABASE_URL", "mysql://root@db:port/amo", "port"),
    ("VAMO_DATABASE_URL", "mysql://root@db/", "one database"),
    ("VAMO_AMO_HOST", "evil.example/path", "not a host name"),
    ("VAMO_AMO_HOST", "a.example,b.example", "one host name"),
    ("VAMO_LOG_LEVEL", "chatty", "expected DEBUG"),
    ("VAMO_REFESH_SECONDS", "5", "unknown setting"),
])
def test_a_bad_value_is_refused_naming_the_variable(name, value, reason):
    with pytest.raises(ConfigError) as error:
        load_config({name: value})
    message = str(error.value)
    assert message.startswith(f"{name}: ")
    assert reason in message
    assert "\n" not in message


def test_the_process_refuses_to_start_with_one_line():
    env = {**os.environ, "VAMO_REFRESH_SECONDS": "often"}
    result = subprocess.run([sys.executable, "-m", "vamo.cli", "serve"], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "vamo: VAMO_REFRESH_SECONDS: expected a number >= 0.1, got 'often'"]


def test_the_configuration_doc_holds_the_settings_table_as_generated():
    text = CONFIGURATION_DOC.read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", text, re.M))
    assert documented == {option.env for option in OPTIONS}
    assert settings_markdown() in text, "regenerate the table: vamo settings"


def test_settings_command_prints_the_table():
    result = subprocess.run([sys.executable, "-m", "vamo.cli", "settings"], env=dict(os.environ),
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    for option in OPTIONS:
        assert f"| `{option.env}` |" in result.stdout
