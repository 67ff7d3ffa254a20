"""Firefox ESR and Thunderbird update an extension through vamo (issue 12).

Real clients (Debian's firefox-esr and thunderbird, headless, over
Marionette) ask a real `vamo serve` that reads a throwaway MariaDB; the XPIs
are on a local file server. Run with `make e2e`, which installs the clients
and the driver; the plain test run leaves these tests out (marker `e2e`).

Each scenario has its own add-on per client, all written before vamo starts.
A failing assertion prints the client's console lines about the check, the
request it sent and vamo's answer to that request.
"""

import json
import os
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests import amo
from tests.clients import FIREFOX, THUNDERBIRD, Client, FileServer, make_xpi
from tests.e2e_data import Classic, Current, sha256
from tests.support import ServerProcess, free_port
from vamo.core.db import Database
from vamo.dev.schema import install_schema

pytestmark = pytest.mark.e2e

CLIENTS = {FIREFOX.name: (FIREFOX, amo.FIREFOX), THUNDERBIRD.name: (THUNDERBIRD, amo.THUNDERBIRD)}
# Both clients are 153 ESR: a range that holds them, and a max below them.
MIN, MAX, MAX_BELOW_CLIENT = "60.0", "999.*", "140.*"
REFRESH_SECONDS = 1
ENABLED, DISABLED = 4, 5  # addons.status: approved, disabled by Mozilla

# scenario -> (addons.status, [(version, strict, max, stored hash or None for the right one)]).
# The client starts with 1.0 installed.
SCENARIOS = {
    "update": (ENABLED, [("1.0", False, MAX, None), ("2.0", False, MAX, None)]),
    "up-to-date": (ENABLED, [("1.0", False, MAX, None)]),
    "strict": (ENABLED, [("1.0", False, MAX, None), ("1.1", False, MAX, None),
                         ("2.0", True, MAX_BELOW_CLIENT, None)]),
    "disabled": (DISABLED, [("1.0", False, MAX, None), ("2.0", False, MAX, None)]),
    "wrong-hash": (ENABLED, [("1.0", False, MAX, None),
                             ("2.0", False, MAX, sha256(b"some other file"))]),
}


@dataclass
class Published:
    guid: str
    addon_id: int
    installed_xpi: bytes  # what the client starts with: version 1.0


@pytest.fixture(scope="session")
def files(tmp_path_factory):
    server = FileServer(tmp_path_factory.mktemp("xpis"))
    yield server
    server.close()


@pytest.fixture(scope="session", params=[Classic, Current], ids=lambda generation: generation.name)
def generation(request, mariadb, files):
    """A throwaway database of one schema generation, and how to write its rows."""
    name = mariadb.create_database()
    db = Database(mariadb.url(name))
    install_schema(db, generation=request.param.name)
    rows = request.param(db, files.url, files.dir)
    rows.database_url = mariadb.url(name)
    yield rows
    db.close()
    mariadb.drop_database(name)


@pytest.fixture(scope="session")
def catalog(generation):
    """Every scenario's add-on for every client, written once: {(scenario, client): Published}."""
    published = {}
    for client_name, (_, app) in CLIENTS.items():
        if client_name not in generation.clients:
            continue
        for scenario, (status, releases) in SCENARIOS.items():
            guid = f"{scenario}-{client_name}@vamo-e2e.example.com"
            addon_id = generation.addon(guid, status=status)
            first = None
            for version, strict, max_version, stored_hash in releases:
                xpi = make_xpi(guid, version)
                first = first or xpi
                generation.release(addon_id, version, xpi, app, MIN, max_version, strict=strict,
                                   hash=stored_hash)
            published[scenario, client_name] = Published(guid, addon_id, first)
    return published


@pytest.fixture(scope="session")
def vamo(catalog, generation, tmp_path_factory):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "VAMO_DATABASE_URL": generation.database_url,
        "VAMO_REFRESH_SECONDS": str(REFRESH_SECONDS),
        "VAMO_LISTEN": "127.0.0.1",
        "PORT": str(free_port()),
    }
    env.update(generation.vamo_env())
    server = ServerProcess(env, log_dir=tmp_path_factory.mktemp("vamo"))
    server.start(timeout=60)
    yield server
    server.stop()


@pytest.fixture(scope="session", params=list(CLIENTS))
def client(request, vamo, generation, tmp_path_factory):
    if request.param not in generation.clients:
        pytest.skip(f"{request.param} asks addons.thunderbird.net, which runs the classic generation")
    app, _ = CLIENTS[request.param]
    running = Client(app, tmp_path_factory.mktemp(app.name))
    try:
        running.start(f"http://127.0.0.1:{vamo.port}", timeout=120)
        yield running
    finally:
        running.stop()


def install(client, published):
    path = os.path.join(client.dir, f"{published.guid}-installed.xpi")
    with open(path, "wb") as out:
        out.write(published.installed_xpi)
    assert client.install(path) == published.guid
    state = client.addon(published.guid)
    assert state["version"] == "1.0" and state["active"] and not state["temporary"], state


def report(client, vamo, files, published, result):
    """What a failure prints: the client's view, its request, vamo's answer, the downloads."""
    lines = [f"--- {client.app.name}, add-on {published.guid}: {json.dumps(result)}",
             "--- the client's console about the check:"]
    console = [line for line in client.console_lines(published.guid, files.url) if "XPIState" not in line]
    # XPIState dumps run to kilobytes: the start of a line says what it is about.
    lines += [line if len(line) < 600 else line[:600] + " ..." for line in console] or ["(nothing)"]
    for url in dict.fromkeys(re.findall(r"Requesting (\S+)", "\n".join(console))):
        parts = urlsplit(url)
        path = parts.path + ("?" + parts.query if parts.query else "")
        lines.append(f"--- the request it sent: GET {url}")
        if parts.port == vamo.port:
            answer = vamo.get(path)
            lines.append(f"--- vamo's answer to it (asked again after the check): {answer.status} "
                         f"{answer.header('content-type')}")
            lines.append(answer.body.decode("utf-8", "replace"))
    lines.append("--- file server requests: " + ("; ".join(files.requests[-6:]) or "none"))
    lines.append("--- vamo's log (tail):\n" + "".join(vamo.output().splitlines(True)[-5:]))
    return "\n".join(lines)


def installed_and_checked(scenario, client, vamo, files, catalog):
    """Install the scenario's 1.0, ask for updates: (published, the client's result, its report)."""
    published = catalog[scenario, client.app.name]
    install(client, published)
    result = client.check_and_install(published.guid)
    return published, result, report(client, vamo, files, published, result)


def test_an_update_is_offered_downloaded_verified_and_installed(client, vamo, files, catalog):
    _, result, explain = installed_and_checked("update", client, vamo, files, catalog)
    assert result.get("offered") == "2.0", explain
    assert "installError" not in result, explain
    assert result["after"] == "2.0" and result["active"], explain


def test_an_addon_up_to_date_gets_no_update_and_no_error(client, vamo, files, catalog):
    _, result, explain = installed_and_checked("up-to-date", client, vamo, files, catalog)
    assert result["status"] == "UPDATE_STATUS_NO_ERROR", explain
    assert "offered" not in result and result["after"] == "1.0" and result["active"], explain


def test_a_strict_version_whose_max_is_below_the_client_is_withheld(client, vamo, files, catalog):
    # 2.0 is strict with max 140.*; the newest version the client can run is 1.1.
    _, result, explain = installed_and_checked("strict", client, vamo, files, catalog)
    assert result.get("offered") == "1.1", explain
    assert result["after"] == "1.1" and result["active"], explain


def test_a_disabled_addon_gets_its_update_once_enabled_again(client, vamo, files, catalog, generation):
    published, result, explain = installed_and_checked("disabled", client, vamo, files, catalog)
    assert result["status"] == "UPDATE_STATUS_NO_ERROR", explain
    assert "offered" not in result and result["after"] == "1.0" and result["active"], explain

    generation.set_status(published.addon_id, ENABLED)
    # The same vamo process applies the change within its refresh interval; the
    # bound is generous because the machine is shared.
    deadline = time.monotonic() + REFRESH_SECONDS + 30
    while True:
        result = client.check_and_install(published.guid)
        if result.get("offered") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    explain = report(client, vamo, files, published, result)
    assert result.get("offered") == "2.0", explain
    assert result["after"] == "2.0" and result["active"], explain


def test_a_wrong_hash_makes_the_client_refuse_the_download(client, vamo, files, catalog):
    _, result, explain = installed_and_checked("wrong-hash", client, vamo, files, catalog)
    assert result.get("offered") == "2.0", explain
    assert result.get("installError") == "ERROR_INCORRECT_HASH", explain
    assert result["after"] == "1.0" and result["active"], explain


def test_nothing_the_client_did_left_127_0_0_1(client, vamo):
    # Last in the file, so it sees every request of the scenarios above.
    for name in ("network.proxy.type", "network.proxy.http", "network.proxy.http_port",
                 "network.proxy.ssl", "network.proxy.ssl_port", "network.proxy.socks",
                 "network.proxy.socks_port", "network.proxy.no_proxies_on"):
        assert client.pref(name) == client.prefs[name], name
    dead = f"127.0.0.1:{client.dead_port}"
    assert client.proxy_for("https://versioncheck.addons.mozilla.org/update/") == dead
    assert client.proxy_for("https://firefox.settings.services.mozilla.com/v1/") == dead
    assert client.proxy_for(f"http://127.0.0.1:{vamo.port}/update/") is None
    # One request of its own, so the check below also holds when this test runs alone.
    assert client.run("return fetch(arguments[0]).then(r => r.status);",
                      f"http://127.0.0.1:{vamo.port}/__lbheartbeat__") == 200
    answered = [line for line in client.requests() if " -> " in line]
    assert answered, "the client's requests were not recorded"
    assert all(urlsplit(line.split()[1]).hostname == "127.0.0.1" for line in answered), answered
