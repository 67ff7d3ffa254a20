"""Changes in the blocklist tables reach the served XML on the next refresher pass
(docs/blocklist.md, "Fixed on purpose": prefs and blapps changes too, deletions too)."""

import pytest

from tests.blocklist_support import FIREFOX, THUNDERBIRD, App, Rows, at, children, only


@pytest.fixture
def rows(mysql_db):
    return Rows(mysql_db)


def em_items(root):
    section = children(root, "emItems")
    return list(section[0]) if section else []


def test_a_new_pref_shows_up(rows, mysql_url):
    item = rows.item("a@example.com", severity=3)
    app = App(mysql_url).pass_()
    assert list(only(em_items(app.xml())[0], "prefs")) == []
    rows.pref(item, "browser.newtab.url")
    assert [p.text for p in only(em_items(app.pass_().xml())[0], "prefs")] == ["browser.newtab.url"]


def test_a_changed_application_range_shows_up(rows, mysql_url):
    item = rows.item("a@example.com", severity=3)
    blapp = rows.app(FIREFOX, blitem_id=item, min="3.0", max="4.0")
    app = App(mysql_url).pass_()
    assert [e.get("id") for e in em_items(app.xml())] == ["a@example.com"]
    rows.db.execute("UPDATE blapps SET guid = %s, modified = %s WHERE id = %s", (THUNDERBIRD, at(99), blapp))
    assert em_items(app.pass_().xml()) == []


def test_a_deleted_row_disappears(rows, mysql_url):
    rows.item("kept@example.com", severity=3, modified=at(1))
    gone = rows.item("gone@example.com", severity=3, modified=at(0))
    app = App(mysql_url).pass_()
    assert len(em_items(app.xml())) == 2
    rows.db.execute("DELETE FROM blitems WHERE id = %s", (gone,))  # leaves no timestamp behind
    assert [e.get("id") for e in em_items(app.pass_().xml())] == ["kept@example.com"]


def test_two_edits_in_the_same_second_both_show_up(rows, mysql_url):
    first = rows.item("first@example.com", severity=3)
    second = rows.item("second@example.com", severity=3)
    app = App(mysql_url).pass_()
    now = rows.db.now()
    rows.db.execute("UPDATE blitems SET severity = 1, modified = %s WHERE id = %s", (now, first))
    app.pass_()
    # The same `modified` as the newest row: neither COUNT nor MAX(modified) moves.
    rows.db.execute("UPDATE blitems SET severity = 1, modified = %s WHERE id = %s", (now, second))
    severities = [only(e, "versionRange").get("severity") for e in em_items(app.pass_().xml())]
    assert severities == ["1", "1"]


def test_an_edit_that_keeps_modified_is_caught_by_the_full_reload(rows, mysql_url):
    item = rows.item("a@example.com", severity=3, modified=at(0))
    app = App(mysql_url, reconcile_seconds=0).pass_()  # every pass is a full load
    rows.db.execute("UPDATE blitems SET severity = 1 WHERE id = %s", (item,))
    assert only(em_items(app.pass_().xml())[0], "versionRange").get("severity") == "1"


def test_nothing_changed_keeps_the_generation_and_its_rendered_answers(rows, mysql_url):
    rows.item("a@example.com", severity=3, modified=at(0))
    app = App(mysql_url, reconcile_seconds=0).pass_()
    before = app.get(f"/blocklist/3/{FIREFOX}/120.0/")
    generation = app.data.generation
    app.pass_().pass_()
    assert app.data.generation is generation
    assert app.get(f"/blocklist/3/{FIREFOX}/120.0/").headers["ETag"] == before.headers["ETag"]
