"""The data generator: deterministic, AMO-shaped, the same on both databases."""

import collections
import os
import subprocess
import sys

import pytest

from vamo import compat
from vamo.dev import demo
from vamo.core.db import Database


@pytest.fixture(scope="module")
def rows():
    return demo.build_rows(2000, seed=3)


def test_the_same_seed_writes_the_same_rows():
    assert demo.build_rows(150, seed=5) == demo.build_rows(150, seed=5)
    assert demo.build_rows(150, seed=5) != demo.build_rows(150, seed=6)


def test_addons_of_several_types_and_statuses(rows):
    types = collections.Counter(a["addontype_id"] for a in rows["addons"])
    statuses = collections.Counter(a["status"] for a in rows["addons"])
    assert set(types) == {1, 2, 3, 4, 5, 9, 10}
    assert types[1] > len(rows["addons"]) / 2
    assert {0, 3, 4, 5, 11} <= set(statuses)
    assert any(a["inactive"] for a in rows["addons"])
    guids = [a["guid"] for a in rows["addons"] if a["guid"]]
    assert len({g.lower() for g in guids}) == len(guids)


def test_version_histories_are_heavy_tailed(rows):
    per_addon = collections.Counter(v["addon_id"] for v in rows["versions"])
    counts = sorted(per_addon.values())
    median = counts[len(counts) // 2]
    assert median <= 3
    assert counts[-1] >= 20 * median
    assert {1, 2} == {v["channel"] for v in rows["versions"]}
    assert any(v["deleted"] for v in rows["versions"])


def test_files_per_platform_with_strict_and_binary_flags(rows):
    files = rows["files"]
    assert {1, 2, 3, 5, 7} <= {f["platform_id"] for f in files}
    by_version = collections.defaultdict(set)
    for f in files:
        by_version[f["version_id"]].add(f["platform_id"])
    assert any(1 in p and len(p) > 1 for p in by_version.values())
    assert any(f["strict_compatibility"] for f in files)
    assert any(f["binary_components"] for f in files)
    assert {4, 1, 5} <= {f["status"] for f in files}
    assert any(f["hash"] == "" for f in files)
    assert all(f["hash"].startswith("sha256:") for f in files if f["hash"])


def test_app_ranges_for_every_application(rows):
    apps = {r["application_id"] for r in rows["applications_versions"]}
    assert {1, 18, 59, 61} <= apps
    appversions = {r["id"]: r for r in rows["appversions"]}
    for r in rows["applications_versions"]:
        low, high = appversions[r["min"]], appversions[r["max"]]
        assert low["application_id"] == high["application_id"] == r["application_id"]
        assert compat.version_int(low["version"]) <= compat.version_int(high["version"])


def test_compat_overrides_of_every_kind(rows):
    ranges = rows["compat_override_range"]
    assert {0, 1} == {r["type"] for r in ranges}
    assert any(r["min_version"] == "0" for r in ranges)
    assert any(r["max_version"] == "*" for r in ranges)
    assert any(r["min_version"] not in ("0", "ver1") for r in ranges)
    assert any(r["min_version"] == "ver1" for r in ranges)
    assert any(r["min_app_version"] == "0" for r in ranges)
    assert any(r["max_app_version"] not in ("*",) for r in ranges)


def test_lightweight_themes_with_translations_and_migrations(rows):
    personas = rows["personas"]
    assert any(p["persona_id"] == 0 for p in personas)
    assert any(p["persona_id"] for p in personas)
    assert any(p["footer"] == "" for p in personas) and any(p["accentcolor"] is None for p in personas)
    locales = {t["locale"] for t in rows["translations"]}
    assert {"en-US", "de", "fr"} <= locales
    assert rows["migrated_personas"]


def test_blocklist_entries_of_every_kind(rows):
    assert any(i["guid"].startswith("/") for i in rows["blitems"])
    assert any(i["guid"] == "evil<&\"'>@blocked.example" for i in rows["blitems"])
    guid_counts = collections.Counter(i["guid"] for i in rows["blitems"])
    assert max(guid_counts.values()) > 1
    assert rows["blitemprefs"]
    assert any(a["blitem_id"] for a in rows["blapps"]) and any(a["blplugin_id"] for a in rows["blapps"])
    assert any(a["guid"] is None for a in rows["blapps"])
    assert any(p["vulnerability_status"] for p in rows["blplugins"])
    assert any(g["driver_version_comparator"] for g in rows["blgfxdrivers"])
    assert rows["blissuercert"] and len(rows["blca"]) == 1


def table_counts(db):
    return {table: db.query(f"SELECT COUNT(*) FROM {table}")[0][0] for table in demo._INSERT_ORDER}


def test_mariadb_and_sqlite_receive_the_same_rows(mysql_db, sqlite_url):
    counts = demo.generate(mysql_db, addons=120, seed=11)
    lite = Database(sqlite_url)
    try:
        assert demo.generate(lite, addons=120, seed=11) == counts
        assert table_counts(lite) == table_counts(mysql_db) == counts
        sql = "SELECT v.id, a.guid, v.version FROM versions v JOIN addons a ON a.id = v.addon_id ORDER BY v.id"
        assert list(lite.query(sql)) == list(mysql_db.query(sql))
    finally:
        lite.close()


def test_it_refuses_to_write_over_existing_addons(mysql_db):
    demo.generate(mysql_db, addons=20, seed=1)
    with pytest.raises(ValueError, match="--reset"):
        demo.generate(mysql_db, addons=20, seed=1)
    assert demo.generate(mysql_db, addons=30, seed=2, reset=True)["addons"] == 30


def test_the_demo_command(mysql_url):
    result = subprocess.run(
        [sys.executable, "-m", "vamo.cli", "demo", "--addons", "40", "--seed", "4",
         "--shape", "edge", "--database-url", mysql_url],
        env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "addons 40" in result.stdout
    db = Database(mysql_url)
    try:
        assert db.query("SELECT COUNT(*) FROM addons")[0][0] == 40
    finally:
        db.close()
