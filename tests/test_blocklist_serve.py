"""The blocklist over real sockets: `vamo serve` on the demo data, freshness end to end
against MariaDB, and malformed requests on the wire."""

import re
import socket
import time
import xml.etree.ElementTree as ET

from tests.blocklist_support import FIREFOX, NS, Rows, section_names
from tests.support import wait_until
from vamo.core.db import Database

FIREFOX_PATH = f"/blocklist/3/{FIREFOX}/120.0/Firefox/20240101/WINNT_x86-msvc/en-US/release/"


def test_the_demo_server_serves_every_section_and_the_pages(serve):
    vamo = serve()  # the embedded SQLite database with generated data
    response = wait_until(lambda: (r := vamo.get(FIREFOX_PATH)).status == 200 and r, 30)
    assert response, vamo.output()
    root = ET.fromstring(response.body)
    assert root.tag == f"{NS}blocklist"
    assert section_names(root) == ["emItems", "pluginItems", "gfxItems", "certItems", "caBlocklistEntry"]
    assert all(len(section) for section in root if section.tag != f"{NS}caBlocklistEntry")
    cert_forms = {tuple(sorted(cert.attrib)) for cert in root.find(f"{NS}certItems")}
    assert cert_forms == {("issuerName",), ("pubKeyHash", "subject")}

    listing = vamo.get("/en-US/firefox/blocked/")
    assert listing.status == 200 and listing.header("content-type") == "text/html; charset=utf-8"
    links = re.findall(rb'<a href="([ip][0-9]+)">', listing.body)
    assert links
    detail = vamo.get(f"/en-US/firefox/blocked/{links[0].decode()}")
    assert detail.status == 200 and b"Why was it blocked?" in detail.body
    assert vamo.get("/blocked/blocklists.json").status == 200


def test_a_change_in_mariadb_is_served_within_the_refresh_interval(serve, mysql_url):
    db = Database(mysql_url)
    try:
        rows = Rows(db)
        item = rows.item("fresh@example.com", max="1.0", severity=3)
        vamo = serve({"VAMO_DATABASE_URL": mysql_url, "VAMO_REFRESH_SECONDS": "1"})
        assert wait_until(lambda: b'maxVersion="1.0"' in vamo.get(FIREFOX_PATH).body, 30), vamo.output()
        db.execute("UPDATE blitems SET max = '2.0', modified = %s WHERE id = %s", (db.now(), item))
        changed = time.monotonic()
        # The bound: VAMO_REFRESH_SECONDS + 1 s.
        seen = wait_until(lambda: b'maxVersion="2.0"' in vamo.get(FIREFOX_PATH).body, 2.0, interval=0.02)
        elapsed = time.monotonic() - changed
        assert seen, f"not served after {elapsed:.2f} s"
    finally:
        db.close()


def raw_request(port, request_bytes):
    """Send bytes as they are; returns the status line's code (or None when the server closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request_bytes)
        received = b""
        while b"\r\n" not in received:
            chunk = conn.recv(4096)
            if not chunk:
                return None
            received += chunk
    return int(received.split(b" ", 2)[1])


FOUR_XX = range(400, 500)
MALFORMED = [
    (b"/blocklist/3/%ff%fe%00/1/", {200}),  # an application no row names: the unconstrained entries
    (b"/blocklist/3/" + b"a" * 6000 + b"/1/", {200}),
    (b"/blocklist/%33/x/1/", {200}),  # percent-encoded "3"
    (b"/blocklist/3/\xff\xfe/\xc0\xae/", FOUR_XX),  # raw non-UTF-8 bytes
    (b"/blocklist/3/a/1/" + b"b/" * 20000, FOUR_XX),
    (b"/blocklist/3/%7B%7D%25%2F/%%%/", {404}),
    (b"/blocklist/99999999999999999999999999/a/1/", {404}),
    (b"/blocklist/-1/a/1/", {404}),
    (b"/en-US/firefox/blocked/i" + b"9" * 300, {404}),
    (b"/%ff/firefox/blocked/", {404}),
    (b"/../blocked/blocklists.json", {404}),
    (b"/blocked/blocklists.json%00", {404}),
    (b"/x/blocked/\xe2\x98\x83", FOUR_XX),
    # werkzeug's matcher strips leading slashes: vamo/app.py keeps these from its routes
    (b"//blocklist/3/%7Bec8030f7-c20a-464f-9b0e-13a3a9e97384%7D/128.0/", {404}),
    (b"//en-US/firefox/blocked/", {404}),
    (b"//__heartbeat__", {404}),
]


def test_malformed_requests_get_4xx_and_the_server_keeps_serving(serve):
    vamo = serve()
    assert wait_until(lambda: vamo.get(FIREFOX_PATH).status == 200, 30), vamo.output()
    for target, expected in MALFORMED:
        code = raw_request(vamo.port, b"GET " + target + b" HTTP/1.1\r\nHost: blocklist.addons.mozilla.org\r\n\r\n")
        assert code in expected, (target[:60], code)
    for method in ("POST", "PUT", "DELETE", "PROPFIND", "OPTIONS"):
        assert vamo.get(FIREFOX_PATH, method=method).status == 405
    odd_headers = {"Accept-Encoding": "\x01;q=" * 500, "If-None-Match": "\xff" * 100}
    assert vamo.get(FIREFOX_PATH, headers=odd_headers).status == 200
    assert vamo.get(FIREFOX_PATH, host="blocklist.addons.mozilla.org").status == 200
    assert "Traceback" not in vamo.output()
