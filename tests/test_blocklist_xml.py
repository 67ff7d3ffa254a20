"""The blocklist XML (docs/blocklist.md, D16), served in-process from rows
written into the throwaway MariaDB."""

import base64
import gzip
import xml.etree.ElementTree as ET

import pytest

from tests.blocklist_support import (
    FIREFOX, NS, THUNDERBIRD, App, Rows, at, children, ms, only, section_names)
from vamo.core.http import http_date


@pytest.fixture
def rows(mysql_db):
    return Rows(mysql_db)


@pytest.fixture
def app(mysql_url):
    return App(mysql_url)


def test_503_until_the_tables_are_loaded(app):
    response = app.get(f"/blocklist/3/{FIREFOX}/120.0/")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5" and response.data == b""
    assert response.headers["Cache-Control"] == "no-store"  # the CDN must not keep it
    assert app.pass_().get(f"/blocklist/3/{FIREFOX}/120.0/").status_code == 200


def test_empty_blocklist_is_the_bare_root_with_a_stable_lastupdate(app):
    app.pass_()
    first = app.get(f"/blocklist/3/{FIREFOX}/120.0/")
    root = ET.fromstring(first.data)
    assert root.tag == f"{NS}blocklist" and list(root) == []
    assert first.data.startswith(
        b'<?xml version="1.0"?>\n<blocklist xmlns="http://www.mozilla.org/2006/addons-blocklist"')
    assert root.get("lastupdate").isdigit()
    assert app.get(f"/blocklist/3/{FIREFOX}/120.0/").data == first.data


def test_sections_in_order_and_lastupdate_from_the_newest_selected_row(rows, app):
    item = rows.item("a@example.com", severity=3, modified=at(10))
    rows.app(FIREFOX, blitem_id=item, modified=at(500))  # blapps do not count (docs/blocklist.md: lastupdate)
    rows.plugin(name="^Flash", modified=at(20))
    rows.gfx(os="WINNT 6.1", modified=at(30))
    rows.gfx(guid=THUNDERBIRD, os="WINNT 6.1", modified=at(50))  # not selected for Firefox
    rows.cert("SVNTVUVS", "MDE=", modified=at(90))
    rows.insert("blca", data="CA", modified=at(100))
    response = app.pass_().get(f"/blocklist/3/{FIREFOX}/120.0/")
    root = ET.fromstring(response.data)
    assert section_names(root) == ["emItems", "pluginItems", "gfxItems", "certItems", "caBlocklistEntry"]
    assert root.get("lastupdate") == str(ms(at(30)))
    assert response.headers["Last-Modified"] == http_date(ms(at(30)) // 1000)
    thunderbird = app.xml(app=THUNDERBIRD)
    assert thunderbird.get("lastupdate") == str(ms(at(50)))


def test_em_item_with_ranges_target_applications_and_prefs(rows, app):
    item = rows.item("a@example.com", min="1.0", max="2.*", severity=3, os="WINNT",
                     name="A <name>", creator="Me", homepage_url="https://a.example/",
                     update_url="https://a.example/update.rdf")
    rows.app(FIREFOX, blitem_id=item, min="3.0", max="*")
    rows.app(FIREFOX, blitem_id=item, min="50.0")  # one bound only: no nested range
    rows.app(THUNDERBIRD, blitem_id=item, min="1.0", max="2.0")
    rows.pref(item, "browser.startup.homepage")
    rows.pref(item, "browser.search.defaultenginename")
    rows.item("bare@example.com", severity=0)  # nothing to say: no versionRange at all
    root = app.pass_().xml()
    em_a, em_bare = children(only(root, "emItems"), "emItem")
    details_id = rows.db.query("SELECT details_id FROM blitems WHERE id = %s", (item,))[0][0]
    assert em_a.attrib == {"id": "a@example.com", "os": "WINNT", "blockID": f"i{details_id}",
                           "name": "A <name>", "creator": "Me", "homepageURL": "https://a.example/",
                           "updateURL": "https://a.example/update.rdf"}
    version_range = only(em_a, "versionRange")
    assert version_range.attrib == {"minVersion": "1.0", "maxVersion": "2.*", "severity": "3"}
    first, second = children(version_range, "targetApplication")
    assert first.get("id") == second.get("id") == FIREFOX
    assert only(first, "versionRange").attrib == {"minVersion": "3.0", "maxVersion": "*"}
    assert children(second, "versionRange") == []
    assert [p.text for p in children(only(em_a, "prefs"), "pref")] == [
        "browser.startup.homepage", "browser.search.defaultenginename"]
    assert em_bare.get("id") == "bare@example.com"
    assert children(em_bare, "versionRange") == [] and list(only(em_bare, "prefs")) == []
    assert b'severity="0"' not in ET.tostring(root)


def test_an_item_whose_ranges_name_other_applications_only_is_left_out(rows, app):
    other = rows.item("thunderbird-only@example.com", severity=3)
    rows.app(THUNDERBIRD, blitem_id=other)
    any_app = rows.item("any-app@example.com", severity=3)
    rows.app(None, blitem_id=any_app, min="1.0", max="2.0")  # no application constraint
    ids = [em.get("id") for em in only(app.pass_().xml(), "emItems")]
    assert ids == ["any-app@example.com"]
    em = only(app.xml(), "emItems")[0]
    assert children(only(em, "versionRange"), "targetApplication") == []
    assert [em.get("id") for em in only(app.xml(app=THUNDERBIRD), "emItems")] == [
        "any-app@example.com", "thunderbird-only@example.com"]


def test_blitems_of_one_guid_collapse_under_the_numerically_lowest_block_id(rows, app):
    for n in range(8):
        rows.details(name=f"filler {n}")
    assert (rows.details(name="ninth"), rows.details(name="tenth")) == (9, 10)
    first = rows.item("twice@example.com", details=10, min="1.0", max="1.5", name="first row",
                      modified=at(5))
    second = rows.item("twice@example.com", details=9, min="3.0", max="3.5", os="Darwin",
                       severity=1, modified=at(60))
    rows.pref(first, "pref.one")
    rows.pref(second, "pref.two")
    root = app.pass_().xml()
    em = only(only(root, "emItems"), "emItem")
    assert em.get("blockID") == "i9"  # AMO's string minimum would pick "i10"
    assert em.get("name") == "first row" and em.get("os") == "Darwin"
    assert [r.get("minVersion") for r in children(em, "versionRange")] == ["1.0", "3.0"]
    assert [p.text for p in children(only(em, "prefs"), "pref")] == ["pref.one", "pref.two"]
    assert root.get("lastupdate") == str(ms(at(60)))


def test_items_are_ordered_by_guid_and_items_without_guid_stay_apart(rows, app):
    for guid in ("zeta@example.com", "/^re(gex)?@example\\.com$/", None, "alpha@example.com", None):
        rows.item(guid, severity=3, name=f"name of {guid}" if guid is None else None)
    ems = list(only(app.pass_().xml(), "emItems"))
    assert [em.get("id") for em in ems] == [
        "/^re(gex)?@example\\.com$/", "alpha@example.com", "zeta@example.com", None, None]
    assert all(em.get("name") == "name of None" for em in ems[3:])
    assert app.get(f"/blocklist/3/{FIREFOX}/120.0/").data == app.get(f"/blocklist/3/{FIREFOX}/120.0/").data


def test_every_value_is_escaped(rows, app):
    hostile = "evil<&\"'>@example.com"
    item = rows.item(hostile, severity=3, name="tab\there", creator="a\nb")
    rows.pref(item, "p<&>")
    rows.plugin(name="^A & B <plugin>$", info_url="https://x.example/?a=1&b=<2>", severity=1)
    rows.gfx(vendor="0x10de & <co>", devices="0x0a6c <x>")
    rows.item("ctl@example.com", severity=3, name="bell\x07")  # not representable in XML 1.0
    response = app.pass_().get(f"/blocklist/3/{FIREFOX}/120.0/")
    assert b"evil&lt;&amp;&quot;&apos;&gt;@example.com" in response.data
    root = ET.fromstring(response.data)
    em = only(root, "emItems")[1]
    assert em.get("id") == hostile and em.get("name") == "tab\there" and em.get("creator") == "a\nb"
    assert only(only(em, "prefs"), "pref").text == "p<&>"
    plugin = only(only(root, "pluginItems"), "pluginItem")
    assert only(plugin, "match").get("exp") == "^A & B <plugin>$"
    assert only(plugin, "infoURL").text == "https://x.example/?a=1&b=<2>"
    gfx = only(only(root, "gfxItems"), "gfxBlacklistEntry")
    assert only(gfx, "vendor").text == "0x10de & <co>"
    assert [d.text for d in only(gfx, "devices")] == ["0x0a6c", "<x>"]
    assert only(root, "emItems")[0].get("name") == "bell\ufffd"


def plugin_items(root):
    section = children(root, "pluginItems")
    return list(section[0]) if section else []


def test_plugins_for_api_3(rows, app):
    rows.plugin(name="^Own range$", description="^desc", filename="np\\.dll",
                min="1.0", max="9.*", severity=3, os="WINNT", xpcomabi="x86-msvc")
    with_app = rows.plugin(name="^With app$", min="2.0", max="2.5", severity=1,
                           info_url="https://info.example/")
    rows.app(FIREFOX, blplugin_id=with_app, min="3.0", max="4.0")
    rows.plugin(name="^Outdated$", severity=0, vulnerability_status=2)
    rows.plugin(name="^Vulnerable but severe$", severity=1, vulnerability_status=1)
    rows.plugin(name="^Half open$", min="2.0")
    rows.plugin(name="^No range$")
    other = rows.plugin(name="^Thunderbird only$", severity=3)
    rows.app(THUNDERBIRD, blplugin_id=other)
    two_ranges = rows.plugin(name="^Two ranges$", severity=3)
    rows.app(FIREFOX, blplugin_id=two_ranges, min="1.0", max="2.0")
    rows.app(FIREFOX, blplugin_id=two_ranges, min="5.0", max="6.0")
    items = plugin_items(app.pass_().xml())
    by_name = {}
    for element in items:
        by_name.setdefault(children(element, "match")[0].get("exp"), []).append(element)
    assert "^Thunderbird only$" not in by_name
    assert len(items) == 8 and len(by_name["^Two ranges$"]) == 2
    assert len({e.get("blockID") for e in by_name["^Two ranges$"]}) == 1

    (own,) = by_name["^Own range$"]
    assert own.get("os") == "WINNT" and own.get("xpcomabi") == "x86-msvc"
    assert [(m.get("name"), m.get("exp")) for m in children(own, "match")] == [
        ("name", "^Own range$"), ("description", "^desc"), ("filename", "np\\.dll")]
    assert only(own, "versionRange").attrib == {"severity": "3", "minVersion": "1.0", "maxVersion": "9.*"}

    (app_row,) = by_name["^With app$"]
    version_range = only(app_row, "versionRange")
    assert version_range.attrib == {"severity": "1", "minVersion": "2.0", "maxVersion": "2.5"}
    target = only(version_range, "targetApplication")
    assert target.get("id") == FIREFOX
    assert only(target, "versionRange").attrib == {"minVersion": "3.0", "maxVersion": "4.0"}
    assert only(app_row, "infoURL").text == "https://info.example/"

    assert only(by_name["^Outdated$"][0], "versionRange").attrib == {
        "severity": "0", "vulnerabilitystatus": "2"}
    assert only(by_name["^Vulnerable but severe$"][0], "versionRange").attrib == {"severity": "1"}
    # AMO dropped a half-open range, which blocked every version.
    assert only(by_name["^Half open$"][0], "versionRange").attrib == {"minVersion": "2.0"}
    assert children(by_name["^No range$"][0], "versionRange") == []


@pytest.mark.parametrize("appver, kept", [("3.0", False), ("3.5", True), ("4.0", False), ("5.0", False)])
def test_api_2_filters_plugins_by_application_version_strictly(rows, app, appver, kept):
    ranged = rows.plugin(name="^Ranged$", severity=1)
    rows.app(FIREFOX, blplugin_id=ranged, min="3.0", max="4.0")
    open_ended = rows.plugin(name="^Open ended$", severity=1)
    rows.app(FIREFOX, blplugin_id=open_ended, min="3.0")
    names = [children(p, "match")[0].get("exp") for p in plugin_items(app.pass_().xml(2, appver=appver))]
    assert names == (["^Ranged$", "^Open ended$"] if kept else ["^Open ended$"])
    for element in plugin_items(app.xml(2, appver=appver)):
        assert children(only(element, "versionRange"), "targetApplication") == []
    assert app.get(f"/blocklist/1/{FIREFOX}/{appver}/").data == app.get(f"/blocklist/2/{FIREFOX}/{appver}/").data


def test_api_2_keeps_a_plugins_own_range_instead_of_blocking_every_version(rows, app):
    rows.plugin(name="^Old Flash$", min="1.0", max="10.1", severity=3)
    (plugin,) = plugin_items(app.pass_().xml(2, appver="3.6"))
    assert only(plugin, "versionRange").attrib == {"severity": "3", "minVersion": "1.0", "maxVersion": "10.1"}


def test_gfx_entries(rows, app):
    full = rows.gfx(guid=FIREFOX, os="WINNT 6.1", vendor="0x10de", devices="0x0a6c  0x0a6e",
                    feature="DIRECT2D", feature_status="BLOCKED_DRIVER_VERSION",
                    driver_version="8.17.12.5896", driver_version_max="9.0",
                    driver_version_comparator="LESS_THAN_OR_EQUAL", hardware="ARM",
                    application_min="45.0")
    rows.gfx(details=False, os="All", feature="WEBGL_MSAA")
    rows.gfx(guid=THUNDERBIRD, os="Darwin 12")
    entries = list(only(app.pass_().xml(), "gfxItems"))
    assert len(entries) == 2
    first, second = entries
    details_id = rows.db.query("SELECT details_id FROM blgfxdrivers WHERE id = %s", (full,))[0][0]
    assert first.attrib == {"blockID": f"g{details_id}"}
    assert [(c.tag.replace(NS, ""), c.text if c.text and c.text.strip() else None) for c in first] == [
        ("os", "WINNT 6.1"), ("vendor", "0x10de"), ("devices", None), ("feature", "DIRECT2D"),
        ("featureStatus", "BLOCKED_DRIVER_VERSION"), ("driverVersion", "8.17.12.5896"),
        ("driverVersionMax", "9.0"), ("driverVersionComparator", "LESS_THAN_OR_EQUAL"),
        ("hardware", "ARM"), ("versionRange", None)]
    assert [d.text for d in only(first, "devices")] == ["0x0a6c", "0x0a6e"]
    assert only(first, "versionRange").attrib == {"minVersion": "45.0"}
    assert second.attrib == {} and [c.tag.replace(NS, "") for c in second] == ["os", "feature"]


def test_cert_items_in_both_forms_and_the_first_ca(rows, app):
    rows.cert("SXNzdWVy", "MDE=")
    rows.cert("U3ViamVjdA==", "pubKeyHash:aGFzaA==")
    rows.insert("blca", data="first CA \u00e9")
    rows.insert("blca", data="second CA")
    root = app.pass_().xml()
    issuer_form, subject_form = only(root, "certItems")
    assert issuer_form.attrib == {"issuerName": "SXNzdWVy"}
    assert only(issuer_form, "serialNumber").text == "MDE="
    assert subject_form.attrib == {"subject": "U3ViamVjdA==", "pubKeyHash": "aGFzaA=="}
    assert list(subject_form) == []
    ca = only(root, "caBlocklistEntry").text
    assert base64.b64decode(ca).decode("utf-8") == "first CA \u00e9"


# -- HTTP ----------------------------------------------------------------------------------

@pytest.fixture
def served(rows, app):
    rows.item("a@example.com", severity=3, modified=at(42))
    return app.pass_()


def test_headers(served):
    response = served.get(f"/blocklist/3/{FIREFOX}/120.0/")
    assert response.headers["Content-Type"] == "text/xml"
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert response.headers["Last-Modified"] == http_date(ms(at(42)) // 1000)
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["Expires"]
    assert response.headers["ETag"].startswith('"')
    assert int(response.headers["Content-Length"]) == len(response.data)


def test_if_none_match_gets_304(served):
    path = f"/blocklist/3/{FIREFOX}/120.0/"
    plain = served.get(path)
    zipped = served.get(path, headers={"Accept-Encoding": "gzip"})
    assert plain.headers["ETag"] != zipped.headers["ETag"]
    for etag in (plain.headers["ETag"], zipped.headers["ETag"], f'"other", W/{plain.headers["ETag"]}', "*"):
        response = served.get(path, headers={"If-None-Match": etag})
        assert response.status_code == 304 and response.data == b""
        assert response.headers["ETag"] == plain.headers["ETag"]
        assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert served.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200


@pytest.mark.parametrize("accept, compressed", [
    ("gzip", True), ("gzip, deflate, br", True), ("br;q=1.0, gzip;q=0.8", True), ("*", True),
    ("x-gzip", True), ("GZIP", True), (None, False), ("identity", False), ("gzip;q=0", False),
    ("br", False), ("gzip;q=nonsense", False), ("*;q=0", False), (",,;;==", False)])
def test_gzip_when_the_client_accepts_it(served, accept, compressed):
    path = f"/blocklist/3/{FIREFOX}/120.0/"
    plain = served.get(path).data
    response = served.get(path, headers={"Accept-Encoding": accept} if accept else {})
    assert response.status_code == 200 and response.headers["Vary"] == "Accept-Encoding"
    if compressed:
        assert response.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(response.data) == plain
        assert len(response.data) == int(response.headers["Content-Length"])
    else:
        assert "Content-Encoding" not in response.headers and response.data == plain


def test_head_sends_the_headers_only(served):
    path = f"/blocklist/3/{FIREFOX}/120.0/"
    response = served.client.head(path)
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Content-Length"] == str(len(served.get(path).data))


def test_trailing_metrics_segments_are_ignored(served):
    bare = served.get(f"/blocklist/3/{FIREFOX}/120.0/")
    full = served.get(f"/blocklist/3/{FIREFOX}/120.0/Firefox/20240101/WINNT_x86-msvc/en-US/release/"
                      "Windows_NT%2010.0/default/default/12/340/new/")
    assert full.status_code == 200 and full.data == bare.data


@pytest.mark.parametrize("path", [
    "/blocklist/3/app/120.0", "/blocklist/3/app/", "/blocklist/3//120.0/", "/blocklist/0/app/1/",
    "/blocklist/4/app/1/", "/blocklist/x/app/1/", "/blocklist/3a/app/1/", "/blocklist//app/1/",
    "/blocklist/" + "9" * 5000 + "/app/1/", "/blocklist/\u0663/app/1/", "/blocklist/", "/blocklist/3"])
def test_bad_api_version_or_path_is_404(served, path):
    response = served.get(path)
    assert response.status_code == 404 and response.data == b""


def test_other_methods_get_405(served):
    response = served.client.post(f"/blocklist/3/{FIREFOX}/120.0/")
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD"


def test_application_matches_case_insensitively_and_unknown_ones_get_the_unconstrained_entries(rows, app):
    item = rows.item("firefox-only@example.com", severity=3)
    rows.app(FIREFOX, blitem_id=item)
    rows.item("everywhere@example.com", severity=3)
    app.pass_()
    upper = [em.get("id") for em in only(app.xml(app=FIREFOX.upper()), "emItems")]
    assert upper == ["everywhere@example.com", "firefox-only@example.com"]
    for unknown in ("nonsense", "%E2%98%83", "{00000000-0000-0000-0000-000000000000}"):
        assert [em.get("id") for em in only(app.xml(app=unknown), "emItems")] == ["everywhere@example.com"]


def test_answers_are_memoized_per_generation_whatever_clients_send(rows, app):
    ranged = rows.plugin(name="^Ranged$")
    rows.app(FIREFOX, blplugin_id=ranged, min="3.0", max="4.0")
    app.pass_()
    for n in range(60):
        for apiver in (1, 2, 3):
            assert app.get(f"/blocklist/{apiver}/app-{n}/{n}.{n}/").status_code == 200
            assert app.get(f"/blocklist/{apiver}/{FIREFOX}/{n}.{n}/").status_code == 200
    rendered = [key for key in app.data.generation.memo if key[0].startswith("xml")]
    # unknown app: API 3 + API 1-2; Firefox: API 3 + one per position among 2 bounds (5)
    assert len(rendered) <= 8


@pytest.mark.parametrize("appver", ["9" * 5000, "*", "a.b.c", "3.6.28esr", "%00", "\u00e9t\u00e9"])
def test_any_application_version_gets_a_document(served, appver):
    for apiver in (1, 2, 3):
        response = served.get(f"/blocklist/{apiver}/{FIREFOX}/{appver}/")
        assert response.status_code == 200
        assert [em.get("id") for em in only(ET.fromstring(response.data), "emItems")] == ["a@example.com"]
