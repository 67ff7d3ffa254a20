"""The lightweight-theme update check, against the throwaway MariaDB (and real sockets
where the server matters): JSON, locales, src=gp, migrations, headers, freshness, outages."""

import datetime
import http.client
import json
import socket
import time

import pytest
from werkzeug.test import Client

from tests.support import make_config, wait_until
from vamo.core.db import Database
from vamo.dev.schema import install_schema
from vamo.dev.devdb import MariaDBServer
from vamo.core.caches import TaggedCache
from vamo.app import create_app

SITE = "https://site.example"
VAMO = "https://vamo.example"
CDN = "https://cdn.example/user-media/addons"
OLD = datetime.datetime(2020, 5, 1, 8, 0, 0)
NEWER = datetime.datetime(2021, 7, 2, 9, 30, 0)
CHECKSUM = "0123abcd" + "e" * 56


class Themes:
    """Writes themes into a test database, with ids chosen by the test."""

    def __init__(self, db):
        self.db = db
        self.translation_id = 0

    def translation(self, texts, modified=OLD):
        if texts is None:
            return None
        self.translation_id += 1
        for locale, text in texts.items():
            self.db.execute(
                "INSERT INTO translations (id, locale, localized_string, created, modified) "
                "VALUES (%s, %s, %s, %s, %s)", (self.translation_id, locale, text, OLD, modified))
        return self.translation_id

    def addon(self, addon_id, kind, status=4, inactive=0, name=None, summary=None,
              modified=OLD):
        self.db.execute(
            "INSERT INTO addons (id, slug, addontype_id, status, inactive, name, summary, "
            "created, modified) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (addon_id, f"theme-{addon_id}", kind, status, inactive, self.translation(name),
             self.translation(summary), OLD, modified))

    def version(self, addon_id, version_id, version, modified=OLD):
        self.db.execute(
            "INSERT INTO versions (id, addon_id, version, created, modified) "
            "VALUES (%s, %s, %s, %s, %s)", (version_id, addon_id, version, OLD, modified))
        self.db.execute("UPDATE addons SET current_version = %s WHERE id = %s",
                        (version_id, addon_id))

    def lightweight(self, addon_id, persona_id=0, name=None, summary=None, status=4,
                    inactive=0, kind=9, header="head.png", footer="foot.png",
                    accentcolor="ff0000", textcolor="000000", username="Ren\u00e9e",
                    checksum=CHECKSUM, version="1.0", addon_modified=OLD):
        """A lightweight theme: add-on, current version and personas row."""
        self.addon(addon_id, kind, status, inactive,
                   name={"en-US": f"Theme {addon_id}"} if name is None else name,
                   summary={"en-US": f"About {addon_id}"} if summary is None else summary,
                   modified=addon_modified)
        self.version(addon_id, addon_id, version)
        self.db.execute(
            "INSERT INTO personas (addon_id, persona_id, header, footer, accentcolor, textcolor, "
            "display_username, author, checksum, created, modified) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (addon_id, persona_id, header, footer, accentcolor, textcolor, username, "author",
             checksum, OLD, OLD))

    def static(self, addon_id, filename, file_hash, status=4):
        """A static theme (type 10) with a current version and one approved file."""
        self.addon(addon_id, 10, status, name={"en-US": f"Static {addon_id}"})
        self.version(addon_id, addon_id, "2.0")
        self.db.execute(
            "INSERT INTO files (version_id, filename, hash, status, created, modified) "
            "VALUES (%s, %s, %s, 4, %s, %s)", (addon_id, filename, file_hash, OLD, OLD))

    def migrate(self, lightweight_id, static_id, getpersonas_id=0):
        self.db.execute(
            "INSERT INTO migrated_personas (lightweight_theme_id, static_theme_id, "
            "getpersonas_id, created, modified) VALUES (%s, %s, %s, %s, %s)",
            (lightweight_id, static_id, getpersonas_id, OLD, OLD))


@pytest.fixture
def themes(mysql_db):
    return Themes(mysql_db)


def make_service(database_url, **settings):
    settings = {"site_url": SITE, "vamo_url": VAMO, "addons_url": CDN, **settings}
    return create_app(make_config(database_url=database_url, **settings), setup_logging=False)


@pytest.fixture
def client(mysql_url):
    return Client(make_service(mysql_url))


def theme_json(client, path, **kwargs):
    response = client.get(path, **kwargs)
    assert response.status_code == 200, (path, response.status_code)
    return response.json


def assert_not_found(response):
    assert response.status_code == 404
    assert response.data == b""


# -- the theme JSON ---------------------------------------------------------------------

def test_an_amo_theme_in_the_requested_locale(themes, client):
    themes.lightweight(10, name={"en-US": "Sunset", "de": "Sonnenuntergang"},
                       summary={"en-US": "Warm", "de": "Warm (de)"}, version="1.2")
    response = client.get("/de/themes/update-check/10")
    assert response.status_code == 200
    assert response.json == {
        "id": "10",
        "name": "Sonnenuntergang",
        "description": "Warm (de)",
        "author": "Ren\u00e9e",
        "username": "Ren\u00e9e",
        "headerURL": f"{CDN}/10/head.png?modified=0123abcd",
        "footerURL": f"{CDN}/10/foot.png?modified=0123abcd",
        "detailURL": f"{SITE}/de/addon/theme-10/",
        "previewURL": f"{CDN}/10/preview.png?modified=0123abcd",
        "iconURL": f"{CDN}/10/icon.png?modified=0123abcd",
        "accentcolor": "#ff0000",
        "textcolor": "#000000",
        "updateURL": f"{VAMO}/de/themes/update-check/10",
        "version": "1.2",
    }


def test_headers_of_a_theme_answer(themes, mysql_db, client):
    themes.lightweight(10, name={"en-US": "Sunset", "de": "Sonnenuntergang"})
    # The newest row that fed the answer (here the German name) is its modification time.
    mysql_db.execute("UPDATE translations SET modified = %s WHERE locale = 'de'", (NEWER,))
    response = client.get("/de/themes/update-check/10")
    headers = response.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "public, max-age=86400"
    assert headers["Content-Length"] == str(len(response.data))
    assert headers["Last-Modified"] == "Fri, 02 Jul 2021 09:30:00 GMT"
    expires = datetime.datetime.strptime(headers["Expires"], "%a, %d %b %Y %H:%M:%S GMT")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    expected = now + datetime.timedelta(days=1)
    assert abs((expires - expected).total_seconds()) < 60
    assert headers["ETag"].startswith('"') and len(headers["ETag"]) > 10
    # In en-US the German name did not feed the answer: an older modification time.
    english = client.get("/en-US/themes/update-check/10")
    assert english.headers["Last-Modified"] == "Fri, 01 May 2020 08:00:00 GMT"
    assert english.headers["ETag"] != headers["ETag"]


def test_a_matching_etag_gets_304_and_head_gets_no_body(themes, client):
    themes.lightweight(10)
    first = client.get("/en-US/themes/update-check/10")
    etag = first.headers["ETag"]
    again = client.get("/en-US/themes/update-check/10", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Last-Modified"] == first.headers["Last-Modified"]
    listed = client.get("/en-US/themes/update-check/10", headers={"If-None-Match": f'"x", W/{etag}'})
    assert listed.status_code == 304
    other = client.get("/en-US/themes/update-check/10", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200 and other.data == first.data
    head = client.head("/en-US/themes/update-check/10")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(len(first.data))


def test_the_name_falls_back_to_en_us_and_the_urls_follow(themes, client):
    themes.lightweight(10, name={"en-US": "Sunset", "de": "Sonnenuntergang"},
                       summary={"en-US": "Warm", "fr": "Chaud"})
    french = theme_json(client, "/fr/themes/update-check/10")
    # No French name: name and description both come from en-US, and so does the locale.
    assert (french["name"], french["description"]) == ("Sunset", "Warm")
    assert french["detailURL"] == f"{SITE}/en-US/addon/theme-10/"
    assert french["updateURL"] == f"{VAMO}/en-US/themes/update-check/10"
    # A German name with no German summary: the locale stays, the description is null.
    german = theme_json(client, "/de/themes/update-check/10")
    assert (german["name"], german["description"]) == ("Sonnenuntergang", None)
    assert german["updateURL"] == f"{VAMO}/de/themes/update-check/10"
    # No locale in the path: en-US.
    plain = theme_json(client, "/themes/update-check/10")
    assert plain["name"] == "Sunset"
    assert plain["detailURL"] == f"{SITE}/en-US/addon/theme-10/"


@pytest.mark.parametrize("database", ["mariadb", "sqlite"])
def test_the_locale_matches_whatever_its_case(database, request, sqlite_url):
    url = request.getfixturevalue("mysql_url") if database == "mariadb" else sqlite_url
    db = Database(url)
    try:
        if database == "sqlite":
            install_schema(db)
        Themes(db).lightweight(10, name={"en-US": "Sunset", "pt-BR": "Pôr do sol"})
    finally:
        db.close()
    answer = theme_json(Client(make_service(url)), "/PT-br/themes/update-check/10")
    assert answer["name"] == "Pôr do sol"
    assert answer["detailURL"] == f"{SITE}/PT-br/addon/theme-10/"


def test_a_theme_named_only_in_other_locales(themes, client):
    themes.lightweight(11, name={"de": "Nur Deutsch"}, summary={"de": "Beschreibung"})
    assert theme_json(client, "/de/themes/update-check/11")["name"] == "Nur Deutsch"
    french = theme_json(client, "/fr/themes/update-check/11")
    assert (french["name"], french["description"]) == (None, None)
    assert french["updateURL"] == f"{VAMO}/en-US/themes/update-check/11"


def test_src_gp_looks_up_a_getpersonas_theme_by_its_getpersonas_id(themes, client):
    themes.lightweight(20, persona_id=813)
    by_gp = theme_json(client, "/en-US/themes/update-check/813?src=gp")
    assert by_gp["id"] == "813"
    assert by_gp["updateURL"] == f"{VAMO}/en-US/themes/update-check/813?src=gp"
    # Images are still under the add-on id; getpersonas-born themes have JPEG previews.
    assert by_gp["headerURL"] == f"{CDN}/20/head.png?modified=0123abcd"
    assert by_gp["previewURL"] == f"{CDN}/20/preview.jpg?modified=0123abcd"
    assert by_gp["iconURL"] == f"{CDN}/20/preview_small.jpg?modified=0123abcd"
    by_addon = theme_json(client, "/en-US/themes/update-check/20")
    assert by_addon["id"] == "20"
    assert by_addon["updateURL"] == f"{VAMO}/en-US/themes/update-check/20"
    assert by_addon["previewURL"] == by_gp["previewURL"]
    assert_not_found(client.get("/en-US/themes/update-check/20?src=gp"))  # not a getpersonas id
    assert_not_found(client.get("/en-US/themes/update-check/813"))        # not an add-on id


def test_src_gp_with_an_amo_born_theme(themes, client):
    themes.lightweight(10, persona_id=0)
    assert theme_json(client, "/themes/update-check/10")["previewURL"].endswith("/10/preview.png?modified=0123abcd")
    assert_not_found(client.get("/themes/update-check/10?src=gp"))
    # 0 is the persona_id of every AMO-born theme, not anyone's getpersonas id.
    assert_not_found(client.get("/themes/update-check/0?src=gp"))


def test_only_an_exact_src_gp_selects_getpersonas_ids(themes, client):
    themes.lightweight(20, persona_id=813)
    assert theme_json(client, "/themes/update-check/813?src=x&src=gp")["id"] == "813"
    assert theme_json(client, "/themes/update-check/20?src=gp&src=amo")["id"] == "20"
    assert theme_json(client, "/themes/update-check/20?src=GP")["id"] == "20"


def test_missing_colours_blank_footer_and_no_checksum(themes, client):
    # Without a checksum the cache-buster is the add-on's modification time, read as UTC.
    themes.lightweight(12, footer="", accentcolor=None, textcolor="", checksum="",
                       addon_modified=datetime.datetime(2009, 3, 30, 23, 17, 40))
    themes.lightweight(13, footer=None)
    answer = theme_json(client, "/en-US/themes/update-check/12")
    assert answer["accentcolor"] is None and answer["textcolor"] is None
    assert answer["footerURL"] == ""
    assert answer["headerURL"] == f"{CDN}/12/head.png?modified=1238455060"
    assert theme_json(client, "/en-US/themes/update-check/13")["footerURL"] == ""


def test_odd_file_names_and_slugs_stay_inside_their_url(themes, mysql_db, client):
    themes.lightweight(14, header="a b#c?.png")
    mysql_db.execute("UPDATE addons SET slug = NULL WHERE id = 14")
    answer = theme_json(client, "/en-US/themes/update-check/14")
    assert answer["headerURL"] == f"{CDN}/14/a%20b%23c%3F.png?modified=0123abcd"
    assert answer["detailURL"] == f"{SITE}/en-US/addon/14/"


@pytest.mark.parametrize("kind, status, inactive", [
    (9, 5, 0),    # disabled by Mozilla
    (9, 11, 0),   # deleted
    (9, 3, 0),    # awaiting review
    (9, 4, 1),    # inactive
    (10, 4, 0),   # a static theme, even with a personas row
])
def test_only_approved_active_lightweight_themes_answer(themes, client, kind, status, inactive):
    themes.lightweight(15, kind=kind, status=status, inactive=inactive)
    assert_not_found(client.get("/en-US/themes/update-check/15"))


def test_unknown_ids_are_404(themes, client):
    themes.lightweight(10)
    assert_not_found(client.get("/en-US/themes/update-check/11"))
    assert_not_found(client.get("/en-US/themes/update-check/4294967295"))
    assert_not_found(client.get("/en-US/themes/update-check/0"))


# -- migrated themes --------------------------------------------------------------------

@pytest.fixture
def migrated(themes):
    themes.lightweight(30, persona_id=930)
    themes.static(31, "theme-31 x.xpi", "sha256:abc+/=")
    themes.migrate(30, 31, getpersonas_id=930)
    return themes


def test_a_migrated_theme_answers_converted_theme(migrated, client):
    expected = {"converted_theme": {
        "url": f"{CDN}/31/theme-31%20x.xpi?filehash=sha256%3Aabc%2B%2F%3D",
        "hash": "sha256:abc+/=",
    }}
    response = client.get("/en-US/themes/update-check/30")
    assert response.json == expected
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    assert response.headers["ETag"]
    assert theme_json(client, "/fr/themes/update-check/930?src=gp") == expected


def test_migrated_themes_are_404_when_turned_off(migrated, mysql_url):
    client = Client(make_service(mysql_url, migrated_themes=False))
    assert_not_found(client.get("/en-US/themes/update-check/30"))
    assert_not_found(client.get("/en-US/themes/update-check/930?src=gp"))


def test_a_migration_to_a_disabled_static_theme_is_404(themes, client):
    themes.lightweight(40)
    themes.static(41, "theme-41.xpi", "sha256:41", status=5)
    themes.migrate(40, 41)
    assert_not_found(client.get("/en-US/themes/update-check/40"))


# -- bad input, over the wire -----------------------------------------------------------

def raw_request(port, request_bytes):
    """Send bytes as they are; the status code of the answer (0 when the server hung up)."""
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(request_bytes)
            while b"\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
    return int(data.split(b" ", 2)[1]) if data else 0


def test_bad_paths_and_methods_get_4xx_and_the_server_goes_on(themes, mysql_url, serve):
    themes.lightweight(10)
    vamo = serve({"VAMO_DATABASE_URL": mysql_url})
    good = "/en-US/themes/update-check/10"
    assert vamo.get(good).status == 200
    for path in ("/themes/update-check/abc", "/themes/update-check/", "/themes/update-check/10/",
                 "/en-US/themes/update-check/10x", "/a/b/themes/update-check/10",
                 "/en-US/themes/update-check/-10", "/en-US/themes/update-check/1.0",
                 "/themes/update-check/99999999999", "/themes/update-check/4294967296",
                 "/%00/themes/update-check/10", "/%ff%fe/themes/update-check/10",
                 "/en-US/themes/update-check/%D9%A1",  # an Arabic-Indic digit one
                 "/en-US%2F..%2F/themes/update-check/10", "/x" * 40 + "/themes/update-check/10",
                 "/themes/update-check/10%0A"):
        response = vamo.get(path)
        assert (response.status, response.body) == (404, b""), path
    # Junk in the query string is not a reason to fail the lookup.
    assert vamo.get(good + "?src=%ff%fe&&=&src").status == 200
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        response = vamo.get(good, method=method)
        assert response.status == 405 and response.header("allow") == "GET, HEAD", method
    assert vamo.get(good, method="BREW").status == 400  # meinheld's own answer
    non_utf8 = b"GET /\xff\xfe/themes/update-check/10 HTTP/1.1\r\nHost: localhost\r\n\r\n"
    assert raw_request(vamo.port, non_utf8) in (400, 404)  # meinheld answers 400 itself
    huge = b"GET /themes/update-check/" + b"1" * 20000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"
    assert raw_request(vamo.port, huge) in (0, 400, 404, 413, 414)
    assert vamo.get(good).status == 200
    assert "Traceback" not in vamo.output()


def test_304_and_head_keep_the_connection_usable(themes, mysql_url, serve):
    themes.lightweight(10)
    vamo = serve({"VAMO_DATABASE_URL": mysql_url})
    path = "/en-US/themes/update-check/10"
    etag = vamo.get(path).header("etag")
    conn = http.client.HTTPConnection("127.0.0.1", vamo.port, timeout=10)
    try:
        statuses = []
        for method, headers in (("GET", {"If-None-Match": etag}), ("HEAD", {}), ("GET", {})):
            conn.request(method, path, headers=headers)
            response = conn.getresponse()
            statuses.append((response.status, response.read()))
        first_socket = conn.sock
        conn.request("GET", path)
        conn.getresponse().read()
        assert conn.sock is first_socket
    finally:
        conn.close()
    assert statuses[0] == (304, b"") and statuses[1] == (200, b"")
    assert statuses[2][0] == 200 and json.loads(statuses[2][1])["id"] == "10"


# -- throughput: SQL round trips and the cache ------------------------------------------

def selects(mariadb):
    conn = mariadb.admin()
    try:
        with conn.cursor() as cursor:
            cursor.execute("SHOW GLOBAL STATUS LIKE 'Com_select'")
            return int(cursor.fetchone()[1])
    finally:
        conn.close()


def test_one_sql_statement_per_uncached_request_and_none_when_cached(themes, mysql_url, mariadb):
    themes.lightweight(10, persona_id=810)
    themes.lightweight(30)
    themes.static(31, "theme-31.xpi", "sha256:31")
    themes.migrate(30, 31)
    client = Client(make_service(mysql_url))
    client.get("/themes/update-check/999")  # opens the request-time connection
    for path in ("/de/themes/update-check/10", "/themes/update-check/810?src=gp",
                 "/themes/update-check/30", "/themes/update-check/404"):
        before = selects(mariadb)
        first = client.get(path)
        assert selects(mariadb) - before == 1, path
        before = selects(mariadb)
        assert client.get(path).data == first.data
        assert selects(mariadb) - before == 0, path


def test_the_cache_is_bounded_and_drops_the_least_recently_used(themes, mysql_url, mariadb):
    for addon_id in (10, 11, 12):
        themes.lightweight(addon_id)
    client = Client(make_service(mysql_url, theme_cache_size=2))

    def queries_for(addon_id):
        before = selects(mariadb)
        assert client.get(f"/themes/update-check/{addon_id}").status_code == 200
        return selects(mariadb) - before

    assert [queries_for(i) for i in (10, 11, 10, 12)] == [1, 1, 0, 1]
    assert [queries_for(i) for i in (10, 12, 11)] == [0, 0, 1]  # 11 was the one dropped


def test_tagged_cache_drops_answers_by_tag_and_refuses_answers_read_before_a_change():
    cache = TaggedCache(10)
    cache.put("a", b"A", {("addon", 1), ("tr", 5)}, cache.generation)
    cache.put("b", b"B", {("addon", 2), ("tr", 5)}, cache.generation)
    cache.put("c", b"C", {("addon", 3)}, cache.generation)
    assert cache.invalidate({("tr", 5), ("addon", 99)}) == 2
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, None, b"C")
    read_at = cache.generation
    cache.invalidate({("addon", 7)})   # a change lands while a request is querying
    cache.put("d", b"stale", {("addon", 7)}, read_at)
    assert cache.get("d") is None
    off = TaggedCache(0)
    off.put("a", b"A", {("addon", 1)}, off.generation)
    assert off.get("a") is None


# -- freshness --------------------------------------------------------------------------

CHANGES = {
    "name": ("UPDATE translations SET localized_string = 'Renamed', modified = NOW() "
             "WHERE locale = 'en-US' AND localized_string = 'Theme 10'",
             lambda answer: answer["name"] == "Renamed"),
    "version": ("UPDATE versions SET version = '2.0', modified = NOW() WHERE id = 10",
                lambda answer: answer["version"] == "2.0"),
    "colour": ("UPDATE personas SET textcolor = 'abcdef', modified = NOW() WHERE addon_id = 10",
               lambda answer: answer["textcolor"] == "#abcdef"),
    "disabled": ("UPDATE addons SET status = 5, modified = NOW() WHERE id = 10",
                 lambda answer: answer is None),
    "migrated": ("INSERT INTO migrated_personas (lightweight_theme_id, static_theme_id, "
                 "getpersonas_id, created, modified) VALUES (10, 31, 810, NOW(), NOW())",
                 lambda answer: answer["converted_theme"]["hash"] == "sha256:31"),
    "static file": ("UPDATE files SET hash = 'sha256:new', modified = NOW() WHERE version_id = 41",
                    lambda answer: answer["converted_theme"]["hash"] == "sha256:new"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("path", ["/en-US/themes/update-check/{}", "/en-US/themes/update-check/{}?src=gp"])
def test_a_change_is_served_after_one_refresh_pass(themes, mysql_url, mysql_db, change, path):
    themes.lightweight(10, persona_id=810)
    themes.static(31, "theme-31.xpi", "sha256:31")
    themes.lightweight(40, persona_id=840)
    themes.static(41, "theme-41.xpi", "sha256:41")
    themes.migrate(40, 41, getpersonas_id=840)
    service = make_service(mysql_url)
    client = Client(service)
    assert service.refresher.run_once()  # the first, full load
    theme_id = 40 if change == "static file" else 10
    if "src=gp" in path:
        theme_id += 800
    url = path.format(theme_id)

    def answer():
        response = client.get(url)
        return response.json if response.status_code == 200 else None

    before = answer()
    sql, changed = CHANGES[change]
    mysql_db.execute(sql)
    assert answer() == before  # still the cached answer
    assert service.refresher.run_once()
    assert changed(answer())


def test_a_new_theme_replaces_a_cached_404_after_one_refresh_pass(themes, mysql_url):
    service = make_service(mysql_url)
    client = Client(service)
    assert service.refresher.run_once()
    assert_not_found(client.get("/themes/update-check/50"))
    assert_not_found(client.get("/themes/update-check/950?src=gp"))
    themes.lightweight(50, persona_id=950)
    themes.db.execute("UPDATE addons SET modified = NOW() WHERE id = 50")
    themes.db.execute("UPDATE personas SET modified = NOW() WHERE addon_id = 50")
    assert service.refresher.run_once()
    assert client.get("/themes/update-check/50").status_code == 200
    assert client.get("/themes/update-check/950?src=gp").status_code == 200


def test_a_change_shows_up_over_the_wire_within_the_refresh_bound(themes, mysql_url, mysql_db, serve):
    themes.lightweight(10)
    vamo = serve({"VAMO_DATABASE_URL": mysql_url, "VAMO_REFRESH_SECONDS": "0.5"})
    assert wait_until(lambda: vamo.get("/__heartbeat__").status == 200, 30), vamo.output()

    def textcolor():
        return json.loads(vamo.get("/en-US/themes/update-check/10").body)["textcolor"]

    assert textcolor() == "#000000"
    mysql_db.execute("UPDATE personas SET textcolor = 'abcdef', modified = NOW() WHERE addon_id = 10")
    changed_at = time.monotonic()
    # The refresh period plus a generous allowance for a busy machine.
    assert wait_until(lambda: textcolor() == "#abcdef", 10), "the change was not served"
    assert time.monotonic() - changed_at < 10


# -- outages ----------------------------------------------------------------------------

def test_database_down_uncached_503_cached_still_served_then_recovery():
    with MariaDBServer() as server:
        url = server.url(server.create_database())
        db = Database(url)
        install_schema(db)
        themes = Themes(db)
        themes.lightweight(10)
        themes.lightweight(11)
        db.close()
        client = Client(make_service(url, db_connect_timeout=1))
        cached = client.get("/en-US/themes/update-check/10")
        assert cached.status_code == 200

        server.stop()
        assert client.get("/en-US/themes/update-check/10").data == cached.data
        down = client.get("/en-US/themes/update-check/11")
        assert down.status_code == 503
        assert down.data == b"" and down.headers["Retry-After"] == "5" and down.headers["Cache-Control"] == "no-store"
        assert client.get("/en-US/themes/update-check/12").status_code == 503

        server.start()
        assert wait_until(lambda: client.get("/en-US/themes/update-check/11").status_code == 200, 20)


# -- metrics, the demo server -----------------------------------------------------------

def test_statsd_timer_services_theme_update(themes, mysql_url):
    themes.lightweight(10)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(5)
        client = Client(make_service(mysql_url, statsd_host="127.0.0.1",
                                     statsd_port=listener.getsockname()[1]))
        assert client.get("/en-US/themes/update-check/10").status_code == 200
        name, _, value = listener.recv(512).decode().partition(":")
    assert name == "services.theme_update"
    assert value.endswith("|ms") and float(value[:-3]) >= 0


def test_the_demo_server_answers_a_theme_check_for_a_demo_theme(serve):
    vamo = serve()  # no VAMO_DATABASE_URL: the embedded SQLite demo database
    # The heartbeat passes once the refresher has run the theme source on SQLite too.
    assert wait_until(lambda: vamo.get("/__heartbeat__").status == 200, 30), vamo.output()
    db = Database(f"sqlite:///{vamo.env['VAMO_EMBEDDED_DATABASE']}")
    try:
        (theme_id, persona_id), = db.query(
            "SELECT a.id, p.persona_id FROM addons a JOIN personas p ON p.addon_id = a.id "
            "WHERE a.addontype_id = 9 AND a.status = 4 AND a.inactive = 0 AND NOT EXISTS "
            "(SELECT 1 FROM migrated_personas m WHERE m.lightweight_theme_id = a.id) "
            "ORDER BY a.id LIMIT 1")
    finally:
        db.close()
    for host in ("localhost", "versioncheck.addons.mozilla.org"):
        response = vamo.get(f"/en-US/themes/update-check/{theme_id}", host=host)
        assert response.status == 200, host
        assert response.header("content-type") == "application/json"
        answer = json.loads(response.body)
        assert answer["id"] == str(theme_id)
        assert answer["updateURL"] == (
            f"https://versioncheck.addons.mozilla.org/en-US/themes/update-check/{theme_id}")
        assert answer["headerURL"].startswith(
            f"https://addons.cdn.mozilla.net/user-media/addons/{theme_id}/")
