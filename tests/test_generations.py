"""AMO's two schema generations (D20): detection, today's AMO view on the current
generation, apps that are off, and start-up errors for a database that lacks
what an app needs.

The update check's answers on the current generation are also asked of
vamo/dev/today.py (today's AMO view: two SQL queries per request) and must be
byte-for-byte the same.
"""

import json
import subprocess
import sys
from urllib.parse import urlencode

import pytest

from tests.amo import ANDROID, FIREFOX, SEAMONKEY, THUNDERBIRD, Amo
from tests.support import wait_until
from tests.test_update import SITE, Checker
from vamo.core.db import Database
from vamo.dev.schema import install_schema
from vamo.core.generations import SchemaError, inspect
from vamo.dev.today import make_app as make_today


@pytest.fixture
def db(current_mysql_url):
    db = Database(current_mysql_url)
    yield db
    db.close()


@pytest.fixture
def amo(db):
    return Amo(db, "current")


@pytest.fixture
def check(current_mysql_url):
    return Checker(current_mysql_url, oracle=make_today)


def updates(response, key):
    assert response.status_code == 200
    return response.json["addons"][key]["updates"]


# -- detection -----------------------------------------------------------------------------------

def test_the_generation_is_read_from_the_tables(db, mysql_db):
    current = inspect(db)
    assert current.generation == "current"
    assert current.apps == {"update check"}
    assert current.off == {"theme check": "no personas table", "blocklist": "no blitems table"}
    classic = inspect(mysql_db)
    assert classic.generation == "classic"
    assert classic.apps == {"update check", "theme check", "blocklist"}


def test_a_forced_generation_must_fit_the_tables(db):
    with pytest.raises(SchemaError, match="files.platform_id"):
        inspect(db, forced="classic")


@pytest.mark.parametrize("table, column", [
    ("addons", None), ("versions", None), ("files", None), ("applications_versions", None),
    ("appversions", None), ("files", "strict_compatibility"), ("versions", "channel"),
])
def test_a_missing_table_or_column_is_named(db, table, column):
    if column:
        db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        db.execute(f"DROP TABLE {table}")
    with pytest.raises(SchemaError) as error:
        inspect(db)
    assert (f"{table}.{column}" if column else f"lacks {table},") in str(error.value)
    assert error.value.permanent


def test_a_classic_database_missing_an_override_table_is_named(mysql_db):
    mysql_db.execute("DROP TABLE compat_override_range")
    with pytest.raises(SchemaError, match="lacks compat_override_range, which the update check needs"):
        inspect(mysql_db)


def test_a_half_present_optional_app_is_an_error_not_off(mysql_db):
    mysql_db.execute("DROP TABLE migrated_personas")
    with pytest.raises(SchemaError, match="lacks migrated_personas, which the theme check needs"):
        inspect(mysql_db)


# -- today's AMO view on the current generation (D2, D4, D7, D10, D11) -------------------------------

def test_offers_the_newest_approved_listed_version_with_a_link_by_file_id(amo, check, db):
    addon = amo.addon(guid="today@example.com", slug="today")
    amo.release(addon, "1.0")
    version = amo.release(addon, "1.1", filename="67/4567/1234567/today-1.1.xpi", hash="sha256:aa")
    file_id = db.query("SELECT id FROM files WHERE version_id = %s", (version,))[0][0]
    [update] = updates(check.get("today@example.com", os="Linux"), "today@example.com")
    assert update == {
        "version": "1.1",
        # The basename ends the URL (Fenix matches downloads by it); no ?filehash=.
        "update_link": f"{SITE}/firefox/downloads/file/{file_id}/today-1.1.xpi",
        "applications": {"gecko": {"strict_min_version": "3.0"}},
        "update_hash": "sha256:aa",
    }


@pytest.mark.parametrize("missing", ["id", "appID", "appVersion"])
def test_missing_parameters_are_400_with_an_empty_object(amo, check, missing):
    amo.release(amo.addon(guid="x@example.com"), "1.0")
    response = check.get("x@example.com" if missing != "id" else None,
                         **({missing: None} if missing != "id" else {}))
    assert (response.status_code, response.get_data()) == (400, b"{}")


@pytest.mark.parametrize("app", [THUNDERBIRD, SEAMONKEY])
def test_only_firefox_and_android_are_answered(amo, check, app):
    amo.release(amo.addon(guid="tb@example.com"), "1.0", app=app, min="1.0", max="*")
    response = check.get("tb@example.com", app=app, version="115.0", currentAppVersion="115.0")
    assert (response.status_code, response.get_data()) == (400, b"{}")
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("guid", ["unknown@example.com", "\u00e9t\u00e9@example.com", "\u2603"])
def test_unknown_and_non_ascii_ids_get_an_empty_object(amo, check, guid):
    amo.release(amo.addon(guid="known@example.com"), "1.0")
    response = check.get(guid)
    assert (response.status_code, response.get_data()) == (200, b"{}")


@pytest.mark.parametrize("status, inactive", [(5, 0), (11, 0), (4, 1)])
def test_disabled_deleted_or_inactive_addons_get_an_empty_object(amo, check, status, inactive):
    amo.release(amo.addon(guid="gone@example.com", status=status, inactive=inactive), "1.0")
    response = check.get("gone@example.com")
    assert (response.status_code, response.get_data()) == (200, b"{}")


def test_no_versions_or_too_low_an_app_version_is_an_empty_update_list(amo, check):
    amo.addon(guid="empty@example.com")
    amo.release(amo.addon(guid="new@example.com"), "1.0", min="100.0", max="*")
    assert check.get("empty@example.com").get_data() == b'{"addons": {"empty@example.com": {"updates": []}}}'
    assert updates(check.get("new@example.com", version="99.0"), "new@example.com") == []


def test_a_strict_file_above_the_client_is_withheld_unless_ignore(amo, check):
    addon = amo.addon(guid="strict@example.com")
    amo.release(addon, "1.0", min="3.0", max="*")
    amo.release(addon, "2.0", min="3.0", max="60.*", strict=1)
    for mode in (None, "strict", "normal"):
        assert check.offered("strict@example.com", version="140.0", mode=mode) == "1.0", mode
    assert check.offered("strict@example.com", version="140.0", mode="ignore") == "2.0"
    # The answer of a strict file carries its max.
    [update] = updates(check.get("strict@example.com", version="50.0"), "strict@example.com")
    assert update["applications"]["gecko"] == {"strict_min_version": "3.0", "strict_max_version": "60.*"}


def test_a_non_strict_file_with_a_low_max_is_withheld_only_in_strict_mode(amo, check):
    addon = amo.addon(guid="loose@example.com")
    amo.release(addon, "1.0", min="3.0", max="*")
    amo.release(addon, "2.0", min="3.0", max="3.6")  # below every minimum of old: no d2c floor now
    assert check.offered("loose@example.com", version="140.0", mode=None) == "1.0"
    assert check.offered("loose@example.com", version="140.0", mode="strict") == "1.0"
    for mode in ("normal", "ignore", "bogus"):  # any other value is ignore, as today's AMO
        assert check.offered("loose@example.com", version="140.0", mode=mode) == "2.0", mode


def test_unlisted_deleted_unapproved_and_disabled_newer_versions_are_skipped(amo, check):
    addon = amo.addon(guid="skips@example.com")
    amo.release(addon, "1.0")
    amo.release(addon, "2.0", channel=1)
    amo.release(addon, "3.0", deleted=1)
    amo.release(addon, "4.0", file_status=1)
    amo.release(addon, "5.0", file_status=5)
    assert check.offered("skips@example.com") == "1.0"


def test_a_version_only_for_another_application_is_skipped(amo, check):
    addon = amo.addon(guid="apps@example.com")
    amo.release(addon, "1.0")
    amo.release(addon, "2.0", app=ANDROID, min="4.0", max="*")
    assert check.offered("apps@example.com") == "1.0"
    assert check.offered("apps@example.com", app=ANDROID, version="140.0") == "2.0"


def test_android_with_release_notes(amo, check, db):
    addon = amo.addon(guid="droid@example.com", slug="droid")
    version = amo.release(addon, "3.1", app=ANDROID, min="4.0", max="*", notes=42,
                          filename="12/3412/3412/droid-3.1.xpi")
    file_id = db.query("SELECT id FROM files WHERE version_id = %s", (version,))[0][0]
    [update] = updates(check.get("droid@example.com", app=ANDROID, version="140.0", os="Android"),
                       "droid@example.com")
    assert update["update_link"] == f"{SITE}/android/downloads/file/{file_id}/droid-3.1.xpi"
    assert update["update_info_url"] == f"{SITE}/%APP_LOCALE%/android/addon/droid/versions/3.1/updateinfo/"


def test_app_os_is_ignored(amo, check):
    amo.release(amo.addon(guid="os@example.com"), "1.0")
    for app_os in ("WINNT", "Darwin", "Linux", "Android", "SunOS", None):
        assert check.offered("os@example.com", os=app_os) == "1.0"


def test_a_new_style_guid_and_the_id_echoed_in_its_own_case(amo, check):
    amo.release(amo.addon(guid="Name@"), "1.0")
    for sent in ("Name@", "name@", "NAME@"):
        assert list(check.get(sent).json["addons"]) == [sent]


# -- apps that are off, over a real socket --------------------------------------------------------

def test_a_current_database_serves_updates_with_themes_and_blocklist_off(serve, current_mysql_url, db):
    amo = Amo(db, "current")
    amo.release(amo.addon(guid="served@example.com"), "1.0")
    server = serve({"VAMO_DATABASE_URL": current_mysql_url})
    heartbeat = wait_until(lambda: (r := server.get("/__heartbeat__")).status == 200 and r, 30)
    assert heartbeat, server.output()
    body = json.loads(heartbeat.body)
    assert body["status"] == "ok"
    assert body["checks"]["themes"] == "off" and body["checks"]["blocklist"] == "off"
    assert body["details"]["themes"] == "off: no personas table"
    query = urlencode({"reqVersion": "2", "id": "served@example.com", "appID": FIREFOX.guid,
                       "appVersion": "5.0"})
    answer = server.get(f"/update/VersionCheck.php?{query}")
    assert answer.status == 200 and json.loads(answer.body)["addons"]["served@example.com"]["updates"]
    for path in ("/en-US/themes/update-check/1", "/blocklist/3/%7Bec8030f7-c20a-464f-9b0e-13a3a9e97384%7D/5.0/",
                 "/en-US/firefox/blocked/", "/blocked/blocklists.json"):
        assert server.get(path).status == 404, path
    assert server.get("/persona/5", host="addons.mozilla.org").status == 404
    assert "current generation: update check on; theme check off (no personas table); " \
           "blocklist off (no blitems table)" in server.output()


# -- start-up errors ----------------------------------------------------------------------------------

def start(env, timeout=30):
    """Run `vamo serve` until it exits (or `timeout`): (exit status, output)."""
    process = subprocess.run([sys.executable, "-m", "vamo.cli", "serve", "--port", "0"],
                             env={"PATH": "/usr/bin:/bin", "VAMO_LISTEN": "127.0.0.1", **env},
                             capture_output=True, text=True, timeout=timeout)
    return process.returncode, process.stderr + process.stdout


def test_a_missing_table_stops_the_start_with_one_line(current_mysql_url, db):
    db.execute("DROP TABLE applications_versions")
    status, output = start({"VAMO_DATABASE_URL": current_mysql_url})
    assert status == 2, output
    errors = [line for line in output.splitlines() if line.startswith("vamo: ")]
    assert errors == ["vamo: VAMO_DATABASE_URL: the database lacks applications_versions, which the "
                      "update check needs (current generation)"], output


def test_an_unknown_or_empty_database_stops_the_start(mariadb):
    status, output = start({"VAMO_DATABASE_URL": mariadb.url("no_such_database")})
    assert status == 2 and "VAMO_DATABASE_URL" in output and "Unknown database" in output, output
    status, output = start({"VAMO_DATABASE_URL": mariadb.url(mariadb.create_database())})
    assert status == 2 and "the database lacks addons" in output, output


@pytest.mark.parametrize("code, permanent", [(1045, True), (1044, True), (1049, True), (2003, False),
                                             (2013, False)])
def test_access_denied_is_permanent_and_a_lost_server_is_not(code, permanent):
    # The tests' mariadbd runs without grant tables, so bad credentials are
    # classified here from the driver's own error type.
    import pymysql

    from vamo.core.db import _wrapped

    error = _wrapped(pymysql.err.OperationalError(code, "message"))
    assert (error.permanent, error.unreachable) == (permanent, not permanent)


def test_install_schema_writes_either_generation(sqlite_url):
    lite = Database(sqlite_url)
    try:
        install_schema(lite, generation="current")
        assert inspect(lite).generation == "current"
        install_schema(lite, drop=True)
        assert inspect(lite).generation == "classic"
    finally:
        lite.close()
