"""Legacy redirects (issue 7, D17): every rule, every method on the services host,
every open-redirect trick, over real sockets to `vamo serve` with the Host set,
the persona and version lookups answered by a MariaDB database filled here."""

import datetime
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from werkzeug.test import Client

from tests.support import ServerProcess, free_port, make_config
from vamo.dev import demo
from vamo.core.config import ConfigError
from vamo.core.db import Database
from vamo.dev.schema import install_schema
from vamo.redirects.app import LOOKUPS, clean_query
from vamo.redirects.rules import parse_rules, read_rules, rules_markdown
from vamo.app import create_app

CONFIGURATION_DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"

AMO = "addons.mozilla.org"
SERVICES = "services.addons.mozilla.org"
GETPERSONAS = "www.getpersonas.com"
# Bases unlike the production ones, to show every Location comes from them.
SITE = "https://amo.example"
VAMO = "https://vc.example"
PFS = "https://pfs.example/plugins/PluginFinderService.php"

WHEN = datetime.datetime(2025, 1, 1)
STAMPS = {"created": WHEN, "modified": WHEN}


def _addon(addon_id, slug, status=4, kind=demo.PERSONA):
    return dict(id=addon_id, guid=None, slug=slug, addontype_id=kind, status=status, inactive=0,
                name=None, summary=None, current_version=None, **STAMPS)


def _persona(row_id, addon_id, persona_id):
    return dict(id=row_id, addon_id=addon_id, persona_id=persona_id, header="h.png",
                footer="f.png", accentcolor=None, textcolor=None, display_username="x",
                author="x", checksum="", **STAMPS)


def _version(version_id, addon_id, version, deleted=0):
    return dict(id=version_id, addon_id=addon_id, version=version, releasenotes=None,
                channel=2, deleted=deleted, **STAMPS)


ROWS = {
    "addons": [
        _addon(10, "sunset-theme"),
        _addon(11, None),                       # no slug: AMO's page takes the id
        _addon(12, "gone-theme", status=11),    # deleted
        _addon(14, "made-on-amo"),
        _addon(20, "tab-mixer", kind=demo.EXTENSION),
        _addon(21, "deleted-extension", status=11, kind=demo.EXTENSION),
    ],
    "personas": [
        _persona(1, 10, 813),
        _persona(2, 11, 814),
        _persona(3, 12, 815),
        _persona(4, 13, 816),                   # its add-on row is gone
        _persona(5, 14, 0),                     # made on AMO: no getpersonas id
    ],
    "versions": [
        _version(200, 20, "2.0"),
        _version(201, 20, "3.0 beta+<&>"),     # needs percent-encoding
        _version(202, 20, "4.0", deleted=1),
        _version(203, 21, "1.0"),
    ],
}


@pytest.fixture(scope="module")
def amo_database(mariadb):
    name = mariadb.create_database()
    url = mariadb.url(name)
    db = Database(url)
    try:
        install_schema(db)
        demo.write_rows(db, ROWS)
    finally:
        db.close()
    yield url
    mariadb.drop_database(name)


def start_server(log_dir, **env):
    process_env = {"PATH": os.environ.get("PATH", ""), "VAMO_LISTEN": "127.0.0.1",
                   "PORT": str(free_port()), "VAMO_SITE_URL": SITE, "VAMO_URL": VAMO,
                   "VAMO_PFS_URL": PFS, **env}
    return ServerProcess(process_env, log_dir=log_dir).start()


@pytest.fixture(scope="module")
def vamo(amo_database, tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("redirects"), VAMO_DATABASE_URL=amo_database)
    yield server
    server.stop()


def assert_redirect(response, status, location):
    assert (response.status, response.header("location")) == (status, location)
    assert response.body == b""
    cache = response.header("cache-control")
    assert cache == ("public, max-age=86400" if status in (301, 308) else None)


# -- the services host: the same path and query on AMO -------------------------------------

@pytest.mark.parametrize("path, location", [
    ("/", f"{SITE}/"),
    ("/en-US/firefox/api/1.5/search/guid:a@b.example,c@d.example?src=firefox&appOS=WINNT",
     f"{SITE}/en-US/firefox/api/1.5/search/guid:a@b.example,c@d.example?src=firefox&appOS=WINNT"),
    ("/en-US/thunderbird/discovery/pane/3.1/WINNT", f"{SITE}/en-US/thunderbird/discovery/pane/3.1/WINNT"),
    ("/api/v4/addons/search/?guid=x%40y&lang=de", f"{SITE}/api/v4/addons/search/?guid=x%40y&lang=de"),
    ("/services/install.php?addon_id=1&addon_name=A%20B", f"{SITE}/services/install.php?addon_id=1&addon_name=A%20B"),
    # Bytes are kept, UTF-8 or not; reserved characters stay encoded.
    ("/de/firefox/search/caf%C3%A9?q=%E2%9C%93", f"{SITE}/de/firefox/search/caf%C3%A9?q=%E2%9C%93"),
    ("/%FF%FE/x", f"{SITE}/%FF%FE/x"),
    ("/a%3Fb%23c%20d/100%25", f"{SITE}/a%3Fb%23c%20d/100%25"),
])
def test_services_host_redirects_to_the_same_path_and_query_on_amo(vamo, path, location):
    assert_redirect(vamo.get(path, host=SERVICES), 301, location)


@pytest.mark.parametrize("method, status", [
    ("GET", 301), ("HEAD", 301),
    ("POST", 308), ("PUT", 308), ("DELETE", 308), ("PATCH", 308), ("OPTIONS", 308),
])
def test_services_host_keeps_the_method_of_anything_but_get_and_head(vamo, method, status):
    body = None if method in ("GET", "HEAD") else b'{"guids": ["a@b.example"]}'
    response = vamo.get("/en-US/firefox/discovery/recs/3.6/WINNT?x=1", host=SERVICES,
                        method=method, body=body)
    assert_redirect(response, status, f"{SITE}/en-US/firefox/discovery/recs/3.6/WINNT?x=1")


def test_services_host_with_port_and_capitals_is_still_the_services_host(vamo):
    response = vamo.get("/en-US/firefox/", host="Services.Addons.Mozilla.Org:443")
    assert_redirect(response, 301, f"{SITE}/en-US/firefox/")


def test_long_paths_redirect_and_oversized_ones_are_refused_by_the_server(vamo):
    long_path = "/" + "a" * 7000
    assert_redirect(vamo.get(long_path, host=SERVICES), 301, SITE + long_path)
    assert vamo.get("/" + "a" * 20000, host=SERVICES).status == 400
    assert vamo.get("/", host=SERVICES).status == 301  # still serving


# -- AMO's legacy paths ------------------------------------------------------------------------

@pytest.mark.parametrize("path, location", [
    ("/persona/813", f"{SITE}/addon/sunset-theme/"),
    ("/persona/813/", f"{SITE}/addon/sunset-theme/"),
    ("/persona/813/any/suffix?src=x", f"{SITE}/addon/sunset-theme/"),
    ("/persona/814", f"{SITE}/addon/11/"),
])
def test_persona_redirects_to_the_add_on_page(vamo, path, location):
    assert_redirect(vamo.get(path, host=AMO), 301, location)


@pytest.mark.parametrize("path", [
    "/persona/815",          # add-on deleted
    "/persona/816",          # add-on gone
    "/persona/0",            # getpersonas id 0 is every theme made on AMO
    "/persona/999",          # unknown
    "/persona/4294967296",   # beyond the column
    "/persona/99999999999",
    "/persona/813abc",
    "/persona/abc",
    "/persona/",
])
def test_persona_without_an_add_on_is_404(vamo, path):
    response = vamo.get(path, host=AMO)
    assert (response.status, response.header("location"), response.body) == (404, None, b"")


@pytest.mark.parametrize("path, location", [
    ("/versions/updateInfo/201/de/",
     f"{SITE}/de/firefox/addon/tab-mixer/versions/3.0%20beta%2B%3C%26%3E/updateinfo/"),
    ("/versions/updateInfo/200/ja-JP-mac/", f"{SITE}/ja-JP-mac/firefox/addon/tab-mixer/versions/2.0/updateinfo/"),
    ("/versions/updateInfo/200/en-US", f"{SITE}/en-US/firefox/addon/tab-mixer/versions/2.0/updateinfo/"),
    ("/versions/updateInfo/200/", f"{SITE}/firefox/addon/tab-mixer/versions/2.0/updateinfo/"),
    ("/versions/updateInfo/200?x=1", f"{SITE}/firefox/addon/tab-mixer/versions/2.0/updateinfo/"),
])
def test_update_info_redirects_to_the_versions_update_info_page(vamo, path, location):
    assert_redirect(vamo.get(path, host=AMO), 301, location)


@pytest.mark.parametrize("path", [
    "/versions/updateInfo/202/en-US/",            # version deleted
    "/versions/updateInfo/203/en-US/",            # add-on deleted
    "/versions/updateInfo/9999/en-US/",
    "/versions/updateInfo/200/%25APP_LOCALE%25/",  # the placeholder, unsubstituted
    "/versions/updateInfo/200/en-US/extra",
])
def test_update_info_of_a_missing_version_is_404(vamo, path):
    assert vamo.get(path, host=AMO).status == 404


def test_pfs_redirects_temporarily_with_the_query(vamo):
    query = ("mimetype=application/x-shockwave-flash&appID=%7Bec8030f7-c20a-464f-9b0e-13a3a9e97384%7D"
             "&appVersion=2008052906&clientOS=Windows%20NT%205.1&chromeLocale=en-US")
    assert_redirect(vamo.get(f"/services/pfs.php?{query}", host=AMO), 302, f"{PFS}?{query}")
    assert_redirect(vamo.get("/services/pfs.php", host=AMO), 302, PFS)
    assert_redirect(vamo.get("/services/pfs.php?a=1", host=AMO, method="POST", body=b"x"),
                    307, f"{PFS}?a=1")


@pytest.mark.parametrize("path, location", [
    ("/en-US/firefox/getpersonas", f"{SITE}/en-US/firefox/themes/"),
    ("/de/thunderbird/getpersonas/?src=x", f"{SITE}/de/thunderbird/themes/"),
    ("/pt-BR/seamonkey/getpersonas", f"{SITE}/pt-BR/seamonkey/themes/"),
])
def test_getpersonas_link_goes_to_the_themes_gallery(vamo, path, location):
    assert_redirect(vamo.get(path, host=AMO), 301, location)


@pytest.mark.parametrize("path", [
    "/en-US/netscape/getpersonas",
    "/getpersonas",
    "/en-US/firefox/addon/sunset-theme/",
    "/en-US/firefox/api/1.5/search/foo",  # the services paths are redirected on the services host only
    "/gallery/All/Popular",               # a getpersonas path
])
def test_amo_host_answers_404_where_no_rule_matches(vamo, path):
    response = vamo.get(path, host=AMO)
    assert (response.status, response.header("location"), response.body) == (404, None, b"")


def test_amo_host_keeps_answering_the_update_check_and_blocklist(vamo):
    for path in ("/update/VersionCheck.php?reqVersion=2&id=a%40b&version=1&appID=x&appVersion=1",
                 "/blocklist/3/%7Bec8030f7-c20a-464f-9b0e-13a3a9e97384%7D/3.6/"):
        response = vamo.get(path, host=AMO)
        assert response.header("location") is None and not 300 <= response.status < 400


def test_any_other_host_gets_amos_rules(vamo):
    assert_redirect(vamo.get("/persona/813", host="localhost:8000"), 301, f"{SITE}/addon/sunset-theme/")
    assert vamo.get("/en-US/firefox/", host="evil.example").status == 404
    assert vamo.get("/en-US/firefox/", host="").status == 404


# -- getpersonas.com ---------------------------------------------------------------------------

@pytest.mark.parametrize("host, path, location", [
    (GETPERSONAS, "/persona/813", f"{SITE}/addon/sunset-theme/"),
    ("getpersonas.com", "/fr/persona/813", f"{SITE}/addon/sunset-theme/"),
    (GETPERSONAS, "/personas/814/", f"{SITE}/addon/11/"),
    (GETPERSONAS, "/update_check/813", f"{VAMO}/themes/update-check/813?src=gp"),
    (GETPERSONAS, "/de/update_check/813?x=1", f"{VAMO}/de/themes/update-check/813?src=gp"),
    (GETPERSONAS, "/", f"{SITE}/firefox/themes/"),
    (GETPERSONAS, "/de", f"{SITE}/de/firefox/themes/"),
    (GETPERSONAS, "/es-ES/", f"{SITE}/es-ES/firefox/themes/"),
    (GETPERSONAS, "/index.html", f"{SITE}/firefox/themes/"),
    (GETPERSONAS, "/gallery/All/Popular", f"{SITE}/firefox/themes/"),
    (GETPERSONAS, "/en-US/gallery/Designer/someone", f"{SITE}/en-US/firefox/themes/"),
    (GETPERSONAS, "/store/gallery/All/Popular", f"{SITE}/firefox/themes/"),
    (GETPERSONAS, "/firstrun?version=1.5", f"{SITE}/firefox/themes/"),
    (GETPERSONAS, "/de/updated?version=1.6", f"{SITE}/de/firefox/themes/"),
    (GETPERSONAS, "/faq", f"{SITE}/firefox/themes/"),
])
def test_getpersonas_paths_go_to_amos_themes(vamo, host, path, location):
    assert_redirect(vamo.get(path, host=host), 301, location)


@pytest.mark.parametrize("path", [
    "/persona/815", "/persona/0", "/static/1/3/813/preview.jpg", "/signin", "/update_check/",
])
def test_getpersonas_paths_without_a_target_are_404(vamo, path):
    assert vamo.get(path, host=GETPERSONAS).status == 404


# -- open redirects and header splitting -------------------------------------------------------

ATTACKS = [
    "//evil.example",
    "//evil.example/%2F..",
    "//__heartbeat__",            # not the heartbeat: werkzeug's matcher would strip a slash
    "/%2Fevil.example",
    "/%2fevil.example",
    "/\\evil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "/%252Fevil.example",         # meinheld decodes %25 and then what follows it again
    "/%25%32%46evil.example",
    "/%255Cevil.example",
    "/en-US/%5C/evil.example",
    "http://evil.example/",
    "https://evil.example/persona/813",
    "/http://evil.example",
    "/https:evil.example",
    "/javascript:alert(1)",
    "/%0D%0ASet-Cookie:%20a=1",
    "/x%0Ay",
    "/x%00y",
    "/x%09y",
    "/x%7Fy",
    "/../evil.example",
    "/a/%2E%2E/b",
    "*",
]


@pytest.mark.parametrize("host", [SERVICES, AMO, GETPERSONAS])
@pytest.mark.parametrize("path", ATTACKS)
def test_no_open_redirect_and_no_header_splitting(vamo, host, path):
    response = vamo.get(path, host=host)
    assert response.status == 400, response
    assert response.header("location") is None and response.header("set-cookie") is None
    assert response.body == b""


def test_query_string_cannot_split_the_header(vamo):
    response = vamo.get("/x?q=%0D%0ASet-Cookie:%20a=1", host=SERVICES)
    assert_redirect(response, 301, f"{SITE}/x?q=%0D%0ASet-Cookie:%20a=1")
    assert response.header("set-cookie") is None


def test_query_string_is_kept_as_sent_but_made_fit_for_a_header():
    # Raw spaces, bytes beyond ASCII and control characters cannot come through
    # meinheld's parser; callers in-process can send them.
    assert clean_query("a=1&b=%20x&c={d}|e") == "a=1&b=%20x&c={d}|e"
    assert clean_query("q=caf\xc3\xa9 x") == "q=caf%C3%A9%20x"
    assert clean_query("q=a\r\nSet-Cookie: b") is None
    assert clean_query("q=\x00") is None


# -- the database ------------------------------------------------------------------------------

def test_unreachable_database_is_503_and_paths_without_lookup_still_redirect(tmp_path):
    nowhere = f"mysql://root@127.0.0.1:{free_port()}/amo"
    server = start_server(tmp_path, VAMO_DATABASE_URL=nowhere)
    try:
        for host, path in ((AMO, "/persona/813"), (AMO, "/versions/updateInfo/200/en-US/"),
                           (GETPERSONAS, "/persona/813")):
            response = server.get(path, host=host)
            assert (response.status, response.header("retry-after"), response.body) == (503, "5", b"")
        assert_redirect(server.get("/services/pfs.php?a=1", host=AMO), 302, f"{PFS}?a=1")
        assert_redirect(server.get("/x", host=SERVICES), 301, f"{SITE}/x")
        assert_redirect(server.get("/update_check/5", host=GETPERSONAS), 301,
                        f"{VAMO}/themes/update-check/5?src=gp")
    finally:
        server.stop()


# -- the rules table ---------------------------------------------------------------------------

@pytest.mark.parametrize("line, reason", [
    ("amo /x 301 keep -", "expected 6 columns"),
    ("blocklist /x 301 keep - {site}/", "unknown site 'blocklist'"),
    ("amo x 301 keep - {site}/", "path must start with /"),
    ("amo /<int:a>/<int:a> 301 keep - {site}/", "<a> appears twice"),
    ("amo /<float:a> 301 keep - {site}/", "unknown kind <float"),
    ("amo /[x 301 keep - {site}/", "[ without ]"),
    ("amo /x] 301 keep - {site}/", "] without ["),
    ("amo /x 303 keep - {site}/", "status must be one of 301, 302, 307, 308"),
    ("amo /x 301 maybe - {site}/", "query must be keep or drop"),
    ("amo /x 301 keep addon {site}/", "unknown lookup 'addon'"),
    ("amo /x 301 keep persona {site}/", "lookup persona needs <int:persona_id>"),
    ("amo /x[/<int:persona_id>] 301 keep persona {site}/", "lookup persona needs <int:persona_id>"),
    ("amo /<segment:slug>/<int:persona_id> 301 keep persona {site}/", "<slug> of the path"),
    ("amo /x https://evil.example/ 301 keep -", "status must be"),
    ("amo /x 301 keep - https://evil.example/", "target must start with {site}"),
    ("amo /x 301 keep - //evil.example", "target must start with {site}"),
    ("amo /x 301 keep - {site}@evil.example/", "base URL must be followed by /, ? or {/name}"),
    ("amo /x 301 keep - {site}.evil.example/", "base URL must be followed by /, ? or {/name}"),
    ("amo /<segment:a> 301 keep - {site}{a}", "base URL must be followed by /"),
    ("amo /x 301 keep - {site}/{vamo}/", "{vamo} can only start the target"),
    ("amo /x 301 keep - {site}/{nope}", "{nope} is neither a value of the path nor of the lookup"),
    ("amo /x[/<locale>] 301 keep - {site}/{locale}/", "use {/locale}"),
    ("amo /x 301 keep - {site}/{/locale}", "{/locale} is not a value of the path"),
    ("amo /x 301 keep - {site}/{slug}", "{slug} is neither"),
    ("amo /x 301 keep - {site}/{", "bad text '{'"),
    ("amo /x 301 keep - {site}/a\x7fb", "bad text"),
])
def test_a_bad_rule_is_refused_with_one_line_naming_it(line, reason):
    with pytest.raises(ConfigError) as refused:
        parse_rules(f"# a comment\n\n{line}\n", "my.rules", LOOKUPS)
    message = str(refused.value)
    assert message.startswith("my.rules, line 3: ") and reason in message
    assert "\n" not in message


def test_a_bad_rules_file_stops_vamo_serve_with_one_line(tmp_path):
    rules = tmp_path / "bad.rules"
    rules.write_text("services /<path> 301 keep - {site}/{path}\namo /x 301 keep - http://evil.example/\n")
    env = {"PATH": os.environ.get("PATH", ""), "PORT": str(free_port()),
           "VAMO_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
           "VAMO_REDIRECT_RULES": str(rules)}
    result = subprocess.run([sys.executable, "-m", "vamo.cli", "serve"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"vamo: {rules}, line 2: target must start with {{site}}, {{vamo}} or {{pfs}}, "
        "got 'http://evil.example/'"]


def test_a_missing_rules_file_stops_vamo_with_one_line(tmp_path):
    with pytest.raises(ConfigError, match="VAMO_REDIRECT_RULES: cannot read .*missing.rules"):
        create_app(make_config(redirect_rules=str(tmp_path / "missing.rules")), setup_logging=False)


def test_an_operator_adds_a_rule_in_a_rules_file_of_their_own(tmp_path, sqlite_url):
    text, _ = read_rules("")
    rules = tmp_path / "site.rules"
    rules.write_text(text + "amo /<locale>/firefox/discovery/<path> 302 keep - {site}/{locale}/about/\n")
    config = make_config(redirect_rules=str(rules), database_url=sqlite_url,
                         redirect_max_age=3600)
    client = Client(create_app(config, setup_logging=False))
    added = client.get("/de/firefox/discovery/pane/3.6/WINNT?a=1", headers={"Host": AMO})
    assert (added.status_code, added.headers["Location"]) == (302, "https://addons.mozilla.org/de/about/?a=1")
    shipped = client.get("/en-US/firefox/getpersonas", headers={"Host": AMO})
    assert (shipped.status_code, shipped.headers["Location"]) == (
        301, "https://addons.mozilla.org/en-US/firefox/themes/")
    assert shipped.headers["Cache-Control"] == "public, max-age=3600"


def test_the_configuration_doc_lists_the_rules_table_vamo_ships():
    result = subprocess.run([sys.executable, "-m", "vamo.cli", "redirects"],
                            env={"PATH": os.environ.get("PATH", "")},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    table = result.stdout.strip()
    assert table == rules_markdown(read_rules("")[0])
    assert len(re.findall(r"^\| (services|amo|getpersonas) \|", table, re.M)) >= 15
    assert table in CONFIGURATION_DOC.read_text()
