"""The /blocked/ pages and the JSON export (docs/blocklist.md: routes, the pages and the JSON export)."""

import datetime
import html.parser
import json
import posixpath

import pytest

from tests.blocklist_support import FIREFOX, THUNDERBIRD, App, Rows, at, ms


def utc(moment):
    """A naive database timestamp as the export writes it: read in local time, shown in UTC."""
    return datetime.datetime.fromtimestamp(ms(moment) // 1000, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


class PageText(html.parser.HTMLParser):
    """The text, the links and the `lang` of a page, checking that every tag it opens is closed."""

    VOID = {"meta", "br", "link", "img", "input", "hr"}

    def __init__(self, body):
        super().__init__(convert_charrefs=True)
        self.parts, self.links, self.open, self.lang, self.headings = [], [], [], None, []
        self._heading = None
        self.feed(body.decode("utf-8"))
        self.close()
        assert self.open == [], f"unclosed tags {self.open}"
        self.text = " ".join("".join(self.parts).split())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag == "a":
            self.links.append(attrs["href"])
        if tag in ("h1", "h2"):
            self._heading = []
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()
        if tag in ("h1", "h2"):
            self.headings.append(" ".join("".join(self._heading).split()))
            self._heading = None

    def handle_data(self, data):
        self.parts.append(data)
        if self._heading is not None:
            self._heading.append(data)


@pytest.fixture
def rows(mysql_db):
    return Rows(mysql_db)


@pytest.fixture
def blocks(rows, mysql_url):
    """An add-on blocked twice, a plugin, an add-on for Thunderbird only, a gfx entry and a cert."""
    hostile = rows.details(name="Evil <&\"'> add-on", why="Steals <passwords>.\nAnd more & worse.",
                           who="Everyone on <Windows>.", bug="https://bugzilla.example/?id=1&x=<2>",
                           created=at(10))
    first = rows.item("evil@example.com", details=hostile, severity=1, created=at(10))
    rows.item("evil@example.com", severity=3, created=at(15))
    plugin_details = rows.details(name="Old Flash", why="Vulnerable.", who="Flash users.",
                                  created=at(20))
    plugin = rows.plugin(details=plugin_details, name="^Flash$", severity=0, vulnerability_status=1,
                         created=at(20))
    rows.app(FIREFOX, blplugin_id=plugin, min="3.0", max="30.*")
    rows.app(FIREFOX, blplugin_id=plugin, min="40.0", max="50.*")  # one list entry all the same
    tb = rows.item("thunderbird-only@example.com", severity=3, created=at(30))
    rows.app(THUNDERBIRD, blitem_id=tb)
    newest = rows.item("newest@example.com", created=at(40))
    gfx = rows.gfx(os="WINNT 6.1")
    cert = rows.cert("SXNzdWVy", "MDE=")
    app = App(mysql_url).pass_()
    ids = {name: rows.db.query(f"SELECT details_id FROM {table} WHERE id = %s", (row,))[0][0]
           for name, table, row in (("evil", "blitems", first), ("plugin", "blplugins", plugin),
                                    ("tb", "blitems", tb), ("newest", "blitems", newest),
                                    ("gfx", "blgfxdrivers", gfx), ("cert", "blissuercert", cert))}
    return app, ids


def test_the_list_shows_the_apps_blocks_newest_first(blocks):
    app, ids = blocks
    response = app.get("/en-US/firefox/blocked/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = PageText(response.data)
    assert page.lang == "en" and page.headings[0] == "Blocked add-ons and plugins for Firefox"
    assert page.links == [f"i{ids['newest']}", f"p{ids['plugin']}", f"i{ids['evil']}"]
    assert "Evil <&\"'> add-on" in page.text and "Old Flash" in page.text
    assert "March 1, 2024" in page.text
    assert b"Evil &lt;&amp;&quot;&#x27;&gt; add-on" in response.data
    thunderbird = PageText(app.get("/de/thunderbird/blocked/").data)
    assert thunderbird.links == [f"i{ids['newest']}", f"i{ids['tb']}", f"i{ids['evil']}"]


def test_list_links_lead_to_the_detail_pages(blocks):
    app, _ = blocks
    base = "/fr/firefox/blocked/"
    for link in PageText(app.get(base).data).links:
        detail = app.get(posixpath.join(base, link))
        assert detail.status_code == 200
        back = PageText(detail.data).links[0]
        assert posixpath.normpath(posixpath.join(base, back)) + "/" == base


def test_item_detail_page(blocks):
    app, ids = blocks
    response = app.get(f"/en-US/firefox/blocked/i{ids['evil']}")
    assert response.status_code == 200
    page = PageText(response.data)
    assert page.headings[0] == "Evil <&\"'> add-on has been blocked to protect you"
    assert "Steals <passwords>. And more & worse." in page.text
    assert b"Steals &lt;passwords&gt;.<br>\nAnd more &amp; worse." in response.data
    assert "Everyone on <Windows>." in page.text
    assert "strongly advised to disable" in page.text  # severity 1: a soft block
    assert "Blocked on March 1, 2024." in page.text
    assert page.links[-1] == "https://bugzilla.example/?id=1&x=<2>"


def test_plugin_detail_page_and_a_hard_block(blocks, rows):
    app, ids = blocks
    plugin = PageText(app.get(f"/en-US/firefox/blocked/p{ids['plugin']}").data)
    assert plugin.headings[0].startswith("Old Flash has been blocked")
    assert "out of date or vulnerable" in plugin.text and "An update that fixes it is available" in plugin.text
    assert "View the block request" not in plugin.text  # no bug URL
    hard = PageText(app.get(f"/en-US/firefox/blocked/i{ids['tb']}").data)
    assert "disabled automatically" in hard.text


@pytest.mark.parametrize("path", [
    "/en-US/firefox/blocked/g{gfx}", "/en-US/firefox/blocked/c{cert}", "/en-US/firefox/blocked/i999",
    "/en-US/firefox/blocked/p{evil}", "/en-US/firefox/blocked/i0{evil}", "/en-US/firefox/blocked/i{evil}/",
    "/en-US/firefox/blocked/x", "/en-US/netscape/blocked/", "/en-US/Firefox/blocked/",
    "/<script>/firefox/blocked/", "/en-US/firefox/blocked/i99999999999999999999999",
    "/blocked/", "/blocked/i{evil}", "/en-US/firefox/blocked/blocklists.json", "/a/b/c/blocked/"])
def test_other_block_ids_and_paths_are_404(blocks, path):
    app, ids = blocks
    response = app.get(path.format(**ids))
    assert response.status_code == 404 and response.data == b""


def test_pages_get_etag_and_gzip(blocks):
    app, _ = blocks
    plain = app.get("/en-US/firefox/blocked/")
    assert app.get("/en-US/firefox/blocked/", headers={"If-None-Match": plain.headers["ETag"]}).status_code == 304
    zipped = app.get("/en-US/firefox/blocked/", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"


def test_json_export(blocks, rows):
    app, ids = blocks
    rows.cert("U3ViamVjdA==", "pubKeyHash:aGFzaA==")
    rows.insert("blca", data="CA data")
    app.pass_()
    response = app.get("/blocked/blocklists.json")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    data = json.loads(response.data)
    assert list(data) == ["last_update", "certificates", "addons", "plugins", "gfx", "ca"]
    assert isinstance(data["last_update"], int)
    assert data["ca"] == "Q0EgZGF0YQ=="

    addons = data["addons"]
    assert [a["guid"] for a in addons] == ["evil@example.com", "evil@example.com",
                                           "thunderbird-only@example.com", "newest@example.com"]
    evil = addons[0]
    assert evil["blockID"] == f"i{ids['evil']}"
    assert evil["versionRange"] == [{"severity": 1, "targetApplication": []}]
    assert evil["prefs"] == []
    assert evil["details"] == {"name": "Evil <&\"'> add-on", "who": "Everyone on <Windows>.",
                               "why": "Steals <passwords>.\nAnd more & worse.",
                               "bug": "https://bugzilla.example/?id=1&x=<2>",
                               "created": utc(at(10))}
    assert addons[2]["versionRange"][0]["targetApplication"] == [{"guid": THUNDERBIRD}]
    assert "os" not in evil and "name" not in evil  # None values are left out
    assert addons[3]["versionRange"] == []

    (plugin,) = data["plugins"]
    assert plugin["blockID"] == f"p{ids['plugin']}" and plugin["matchName"] == "^Flash$"
    assert plugin["versionRange"] == [{
        "severity": 0, "vulnerabilityStatus": 1,
        "targetApplication": [{"guid": FIREFOX, "minVersion": "3.0", "maxVersion": "30.*"},
                              {"guid": FIREFOX, "minVersion": "40.0", "maxVersion": "50.*"}]}]

    (gfx,) = data["gfx"]
    assert gfx["blockID"] == f"g{ids['gfx']}" and gfx["os"] == "WINNT 6.1" and gfx["devices"] == []
    assert data["certificates"][0]["issuerName"] == "SXNzdWVy"
    assert data["certificates"][0]["serialNumber"] == "MDE="
    assert {"subject": "U3ViamVjdA==", "pubKeyHash": "aGFzaA=="}.items() <= data["certificates"][1].items()


def test_json_export_without_a_ca(rows, mysql_url):
    app = App(mysql_url).pass_()
    data = json.loads(app.get("/blocked/blocklists.json").data)
    assert data == {"last_update": data["last_update"], "certificates": [], "addons": [], "plugins": [],
                    "gfx": [], "ca": None}
