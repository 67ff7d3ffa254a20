"""The data generator's blocklist rows: every kind the XML can express, even in a small dataset."""

import pytest

from vamo.dev import demo


@pytest.mark.parametrize("addons, seed", [(40, 1), (300, 7)])
def test_blocklist_rows_of_every_kind(addons, seed):
    rows = demo.build_rows(addons, seed=seed)
    items, plugins, certs = rows["blitems"], rows["blplugins"], rows["blissuercert"]
    guids = [item["guid"] for item in items]
    assert any(guid and guid.startswith("/") for guid in guids)
    assert None in guids
    assert len({g for g in guids if g is not None}) < len([g for g in guids if g is not None])
    assert any("\n" in d["why"] for d in rows["bldetails"]) and any(d["bug"] == "" for d in rows["bldetails"])
    with_apps = {a["blplugin_id"] for a in rows["blapps"] if a["blplugin_id"]}
    assert any(p["id"] in with_apps for p in plugins) and any(p["id"] not in with_apps for p in plugins)
    assert any(p["min"] and not p["max"] for p in plugins)
    assert any(g["guid"] is None for g in rows["blgfxdrivers"])
    assert any(g["driver_version_comparator"] for g in rows["blgfxdrivers"])
    assert any(c["serial"].startswith("pubKeyHash:") for c in certs)
    assert any(not c["serial"].startswith("pubKeyHash:") for c in certs)
