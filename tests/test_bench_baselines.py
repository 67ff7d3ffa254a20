"""The bench's two-query baselines load as bench/serve_app.py loads them, and answer.

A baseline that fails to start stops `make bench` half way; this runs each the
way the bench names it (`module:application`, settings from the environment).
"""

import sys

import pytest
from werkzeug.test import Client

from bench.serve_app import load_callable
from bench.targets import TWO_QUERY_APPS
from tests.amo import FIREFOX
from tests.support import demo_database


@pytest.mark.parametrize("generation", sorted(TWO_QUERY_APPS))
def test_the_two_query_baseline_of_each_generation_answers(mariadb, monkeypatch, generation):
    url = demo_database(mariadb, addons=30, seed=3, generation=generation)
    monkeypatch.setenv("VAMO_DATABASE_URL", url)
    spec = TWO_QUERY_APPS[generation][0]
    sys.modules.pop(spec.partition(":")[0], None)  # built anew from this environment
    try:
        client = Client(load_callable(spec))
        response = client.get(f"/update/VersionCheck.php?reqVersion=2&id=nobody%40example.com"
                              f"&appID={FIREFOX.guid}&appVersion=100.0")
        assert (response.status_code, response.get_data()) == (200, b"{}")
    finally:
        sys.modules.pop(spec.partition(":")[0], None)
