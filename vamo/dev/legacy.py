"""The update check done the legacy way: the benchmark's baseline and the tests' oracle.

Like AMO's `services/update.py`, every request checks a connection out of a
pool, runs two SQL queries (the add-on lookup, then one query that encodes
the status, platform, compatibility, default-to-compatible and override
rules and picks the newest row with ORDER BY ... LIMIT 1), renders the answer
from string templates, and returns the connection with a rollback.

It takes the same decisions as vamo (D1-D12 of docs/decisions.md), written
independently of vamo's engine (SQL instead of the in-memory index,
templates instead of json.dumps), so that the two answering alike means
something. Like AMO, it reads compat overrides from `incompatible_versions`,
which `sync_incompatible_versions` fills from the compat override tables
before serving (AMO's task did that on every override change).

A dev tool (vamo/dev/), never part of the service. Serve it with `python -m
bench.serve_app vamo.dev.legacy:application` and VAMO_DATABASE_URL set (MySQL only).
"""

import json
import os
import queue
import time
from email.utils import formatdate
from urllib.parse import parse_qsl, quote
from xml.sax.saxutils import escape

import pymysql

from vamo import compat
from vamo.core.config import load_config
from vamo.core.db import parse_url
from vamo.core.http import etag_matches, make_etag

ADDON_SQL = """
SELECT id, guid, addontype_id, slug FROM addons
WHERE guid = %(guid)s AND status NOT IN (5, 11) AND inactive = 0
LIMIT 1"""

CANDIDATE_SQL = """
SELECT v.id, v.version, v.releasenotes, f.filename, f.hash, f.strict_compatibility,
       appmin.version, appmax.version
FROM versions v
JOIN files f ON f.version_id = v.id
JOIN applications_versions av ON av.version_id = v.id
JOIN appversions appmin ON appmin.id = av.min
JOIN appversions appmax ON appmax.id = av.max
WHERE v.addon_id = %(addon_id)s
  AND v.channel = 2 AND v.deleted = 0 AND f.status = 4
  AND av.application_id = %(app_id)s
  AND appmin.application_id = %(app_id)s AND appmax.application_id = %(app_id)s
  AND (f.platform_id = 1 OR f.platform_id = %(platform)s)
  AND appmin.version_int <= %(version_int)s
  {compat}
ORDER BY v.id DESC, f.platform_id = 1, f.id DESC
LIMIT 1"""

STRICT_SQL = "AND appmax.version_int >= %(version_int)s"
NORMAL_SQL = """
  AND (appmax.version_int >= %(version_int)s
       OR (f.strict_compatibility = 0 AND f.binary_components = 0))
  AND appmax.version_int >= %(d2c_min)s
  AND v.id NOT IN (
    SELECT iv.version_id FROM incompatible_versions iv
    WHERE iv.app_id = %(app_id)s AND (
      (iv.min_app_version = '0' AND iv.max_app_version_int >= %(version_int)s)
      OR (iv.min_app_version_int <= %(version_int)s AND iv.max_app_version = '*')
      OR (iv.min_app_version_int <= %(version_int)s AND iv.max_app_version_int >= %(version_int)s)))"""
COMPAT_SQL = {"strict": STRICT_SQL, "normal": NORMAL_SQL, "ignore": ""}

OVERRIDE_RANGES_SQL = """
SELECT co.addon_id, cr.min_version, cr.max_version, cr.app_id, cr.min_app_version, cr.max_app_version
FROM compat_override co JOIN compat_override_range cr ON cr.compat_id = co.id
WHERE co.addon_id IS NOT NULL AND cr.type = 1"""
ADDON_VERSIONS_SQL = "SELECT id, version FROM versions WHERE addon_id = %s AND deleted = 0 ORDER BY id"
INSERT_INCOMPATIBLE_SQL = """
INSERT INTO incompatible_versions (version_id, app_id, min_app_version, max_app_version,
  min_app_version_int, max_app_version_int, created, modified)
VALUES (%s, %s, %s, %s, %s, %s, NOW(), NOW())"""

TYPE_SLUGS = {1: "extension", 2: "theme", 3: "extension", 4: "search", 5: "item", 6: "extension",
              7: "plugin", 9: "background-theme", 10: "static-theme", 11: "app"}
PLATFORM_NAMES = (("Android", 7), ("WINNT", 5), ("Darwin", 3), ("Linux", 2), ("BSD_OS", 4), ("SunOS", 6))

JSON_UPDATE = ('{"addons": {%(guid)s: {"updates": [{"version": %(version)s, "update_link": %(link)s, '
               '"applications": {"gecko": {"strict_min_version": %(min)s%(max)s}}%(hash)s%(info)s}]}}}')
JSON_NO_UPDATES = '{"addons": {%(guid)s: {"updates": []}}}'
JSON_EMPTY = "{}"

RDF_OPEN = """<?xml version="1.0"?>
<RDF:RDF xmlns:RDF="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:em="http://www.mozilla.org/2004/em-rdf#">
"""
RDF_EMPTY = RDF_OPEN + "</RDF:RDF>\n"
RDF_NO_UPDATES = RDF_OPEN + """    <RDF:Description about="urn:mozilla:%(type)s:%(guid)s">
        <em:updates>
            <RDF:Seq>
            </RDF:Seq>
        </em:updates>
    </RDF:Description>
</RDF:RDF>
"""
RDF_UPDATE = RDF_OPEN + """    <RDF:Description about="urn:mozilla:%(type)s:%(guid)s">
        <em:updates>
            <RDF:Seq>
                <RDF:li resource="urn:mozilla:%(type)s:%(guid)s:%(version)s"/>
            </RDF:Seq>
        </em:updates>
    </RDF:Description>

    <RDF:Description about="urn:mozilla:%(type)s:%(guid)s:%(version)s">
        <em:version>%(version)s</em:version>
        <em:targetApplication>
            <RDF:Description>
                <em:id>%(app)s</em:id>
                <em:minVersion>%(min)s</em:minVersion>
                <em:maxVersion>%(max)s</em:maxVersion>
                <em:updateLink>%(link)s</em:updateLink>
%(info)s%(hash)s            </RDF:Description>
        </em:targetApplication>
    </RDF:Description>
</RDF:RDF>
"""
RDF_INFO = "                <em:updateInfoURL>%s</em:updateInfoURL>\n"
RDF_HASH = "                <em:updateHash>%s</em:updateHash>\n"


def xml(text):
    return escape(text, {'"': "&quot;"})


class Pool:
    """A small connection pool in the manner of SQLAlchemy's QueuePool (size 5,
    overflow 10, rollback on return)."""

    def __init__(self, database_url, size=5, overflow=10):
        url = parse_url(database_url)
        self.kwargs = dict(user=url.user, password=url.password, database=url.database,
                           charset="utf8mb4", ssl_disabled=True, autocommit=False)
        if url.unix_socket:
            self.kwargs["unix_socket"] = url.unix_socket
        else:
            self.kwargs.update(host=url.host, port=url.port)
        self.idle = queue.LifoQueue()
        self.size, self.overflow, self.open = size, overflow, 0

    def checkout(self):
        try:
            return self.idle.get_nowait()
        except queue.Empty:
            if self.open >= self.size + self.overflow:
                return self.idle.get(timeout=30)
            self.open += 1
            return pymysql.connect(**self.kwargs)

    def two_queries(self, addon_sql, candidate_sql, params):
        """(the add-on row, the candidate row), each None when not found: the two
        queries of one request on one pooled connection; the second gets the
        add-on's id as `addon_id`."""
        conn = self.checkout()
        broken = False
        try:
            with conn.cursor() as cursor:
                cursor.execute(addon_sql, params)
                addon = cursor.fetchone()
                if addon is None:
                    return None, None
                cursor.execute(candidate_sql, {**params, "addon_id": addon[0]})
                return addon, cursor.fetchone()
        except pymysql.err.Error:
            broken = True
            raise
        finally:
            self.checkin(conn, broken)

    def checkin(self, conn, broken=False):
        if not broken:
            try:
                conn.rollback()
            except pymysql.err.Error:
                broken = True
        if broken:
            self.open -= 1
            conn.close()
        elif self.idle.qsize() < self.size:
            self.idle.put(conn)
        else:
            self.open -= 1
            conn.close()


def sync_incompatible_versions(database_url):
    """Rebuild `incompatible_versions` from the compat override tables (type 1 only;
    `0`/`*` are the add-on's lowest/highest version, other strings must name a version)."""
    pool = Pool(database_url)
    conn = pool.checkout()
    try:
        with conn.cursor() as cursor:
            cursor.execute("DELETE FROM incompatible_versions")
            cursor.execute(OVERRIDE_RANGES_SQL)
            ranges = cursor.fetchall()
            rows = []
            for addon_id, min_version, max_version, app_id, min_app, max_app in ranges:
                cursor.execute(ADDON_VERSIONS_SQL, (addon_id,))
                versions = cursor.fetchall()
                if not versions:
                    continue
                ids = [vid for vid, _ in versions]
                named = {}
                for vid, string in versions:
                    named.setdefault(string, []).append(vid)
                if min_version == "0":
                    low = ids[0]
                elif min_version in named:
                    low = min(named[min_version])
                else:
                    continue
                if max_version == "*":
                    high = ids[-1]
                elif max_version in named:
                    high = max(named[max_version])
                else:
                    continue
                for vid in ids:
                    if low <= vid <= high:
                        rows.append((vid, app_id, min_app, max_app, compat.version_int(min_app),
                                     compat.version_int(max_app)))
            if rows:
                cursor.executemany(INSERT_INCOMPATIBLE_SQL, rows)
        conn.commit()
    finally:
        pool.checkin(conn)


def respond(environ, start_response, answer):
    """The WSGI answer of `answer(query string) -> (status, is RDF, body text)`."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
        return [b""]
    status, rdf, body = answer(environ.get("QUERY_STRING", ""))
    body = body.encode("utf-8")
    etag = make_etag(body)
    now = time.time()
    headers = [("Content-Type", "text/xml" if rdf else "application/json"),
               ("Cache-Control", "public, max-age=3600"),
               ("Expires", formatdate(now + 3600, usegmt=True)),
               ("Last-Modified", formatdate(now, usegmt=True)), ("ETag", etag)]
    match = environ.get("HTTP_IF_NONE_MATCH")
    if status == 200 and match and etag_matches(match, etag):
        start_response("304 Not Modified", headers[1:])
        return [b""]
    headers.append(("Content-Length", str(len(body))))
    start_response("200 OK" if status == 200 else "400 Bad Request", headers)
    return [body if environ.get("REQUEST_METHOD") == "GET" else b""]


class LegacyUpdate:
    def __init__(self, database_url, site_url, addons_url, rdf_apps):
        self.pool = Pool(database_url)
        self.site_url = site_url
        self.addons_url = addons_url
        self.rdf_apps = rdf_apps

    def __call__(self, environ, start_response):
        return respond(environ, start_response, self.answer)

    def answer(self, query):
        """(HTTP status, is RDF, body text)."""
        try:
            if len(query) > 8192:
                raise ValueError("too long")
            query = query.encode("latin-1").decode("utf-8")
            data = dict(parse_qsl(query, errors="strict"))
        except (ValueError, UnicodeError):
            return 400, False, JSON_EMPTY
        app = compat.APPS_BY_GUID.get(data.get("appID"))
        if app is None:
            return 400, False, JSON_EMPTY
        rdf = self.wants_rdf(app, data.get("currentAppVersion") or data.get("appVersion"))
        empty = RDF_EMPTY if rdf else JSON_EMPTY
        if not data.get("id") or not data.get("appVersion"):
            return 400, rdf, empty
        mode = data.get("compatMode")
        mode = mode if mode in ("normal", "ignore") else "strict"
        platform = 0
        for name, platform_id in PLATFORM_NAMES:
            if name in data.get("appOS", ""):
                platform = platform_id
                break
        params = {"guid": data["id"], "app_id": app.id, "platform": platform,
                  "version_int": compat.version_int(data["appVersion"]),
                  "d2c_min": compat.version_int(app.d2c_min_version) if app.d2c_min_version else 0}

        addon, row = self.pool.two_queries(ADDON_SQL, CANDIDATE_SQL.format(compat=COMPAT_SQL[mode]), params)
        if addon is None:
            return 200, rdf, empty
        return 200, rdf, self.render(rdf, app, addon, row, data["id"])

    def wants_rdf(self, app, client_version):
        """As addons.thunderbird.net: JSON to Thunderbird above 60, RDF to older ones."""
        if app.id in self.rdf_apps or app.short in ("seamonkey", "mobile"):
            return True
        if app.short == "thunderbird":
            return compat.version_int(client_version or "") <= compat.version_int("60.*")
        return False

    def render(self, rdf, app, addon, row, guid):
        """The answer, keyed by the id as the client sent it (as today's AMO does)."""
        addon_id, _, type_id, slug = addon
        type_slug = TYPE_SLUGS.get(type_id, "extension")
        if row is None:
            if rdf:
                return RDF_NO_UPDATES % {"type": type_slug, "guid": xml(guid)}
            return JSON_NO_UPDATES % {"guid": json.dumps(guid)}
        version_id, version, notes, filename, file_hash, strict, app_min, app_max = row
        link = "%s/%s/%s" % (self.addons_url, addon_id, quote(filename))
        if file_hash:
            link += "?filehash=" + quote(file_hash, safe="")
        info = None
        if notes:
            info = "%s/%%APP_LOCALE%%/%s/addon/%s/versions/%s/updateinfo/" % (
                self.site_url, app.short, quote(slug or str(addon_id), safe=""), quote(version, safe=""))
        if rdf:
            return RDF_UPDATE % {
                "type": type_slug, "guid": xml(guid), "version": xml(version), "app": xml(app.guid),
                "min": xml(app_min), "max": xml(app_max), "link": xml(link),
                "info": RDF_INFO % xml(info) if info else "",
                "hash": RDF_HASH % xml(file_hash) if file_hash else ""}
        return JSON_UPDATE % {
            "guid": json.dumps(guid), "version": json.dumps(version), "link": json.dumps(link),
            "min": json.dumps(app_min),
            "max": ', "strict_max_version": %s' % json.dumps(app_max) if strict else "",
            "hash": ', "update_hash": %s' % json.dumps(file_hash) if file_hash else "",
            "info": ', "update_info_url": %s' % json.dumps(info) if info else ""}


def make_app(config=None, sync=True):
    config = config or load_config()
    if not config.database_url.startswith("mysql"):
        raise SystemExit("vamo/dev/legacy.py needs VAMO_DATABASE_URL=mysql://...")
    if sync:
        sync_incompatible_versions(config.database_url)
    return LegacyUpdate(config.database_url, config.site_url, config.addons_url, config.rdf_apps)


def __getattr__(name):
    if name == "application":
        global application
        application = make_app()
        return application
    raise AttributeError(name)


if __name__ == "__main__":
    print(os.path.basename(__file__), "is a WSGI app: serve vamo.dev.legacy:application")
