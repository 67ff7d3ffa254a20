"""The update check as today's AMO view answers it: the tests' oracle for the current generation.

AMO's update view (Django, since 2022) runs two queries per request on a
replica: the add-on by GUID, then the newest qualifying version with its
file and application range, judged on the stored `appversions.version_int`.
Written independently of vamo's engine (SQL instead of the in-memory index,
dicts through json.dumps instead of hand-written JSON), so that the two
answering alike means something. Rules (D2-D11 of docs/decisions.md for the current
generation): Firefox and Android only; no platforms, binary components,
default-to-compatible minimum or compat overrides; compatMode absent or
`strict` checks the max, `normal` only for strict files, anything else never;
the answer is keyed by the id as sent; links go to the site's download view
by file id, ending in the file's basename.

A dev tool (vamo/dev/), never part of the service (MySQL only).
"""

import json
import posixpath
from urllib.parse import parse_qsl, quote

from vamo.dev.legacy import Pool, respond
from vamo.compat import version_int
from vamo.core.config import load_config

FIREFOX, ANDROID = "{ec8030f7-c20a-464f-9b0e-13a3a9e97384}", "{aa3c5121-dab2-40e2-81ca-7ea25febc110}"
APPS = {FIREFOX: (1, "firefox"), ANDROID: (61, "android")}

ADDON_SQL = """
SELECT id, slug FROM addons
WHERE guid = %(guid)s AND status NOT IN (5, 11) AND inactive = 0"""

VERSION_SQL = """
SELECT v.id, v.version, v.releasenotes, f.id, f.filename, f.hash, f.strict_compatibility,
       appmin.version, appmax.version
FROM versions v
JOIN files f ON f.version_id = v.id
JOIN applications_versions av ON av.version_id = v.id
JOIN appversions appmin ON appmin.id = av.min
JOIN appversions appmax ON appmax.id = av.max
WHERE v.addon_id = %(addon_id)s AND v.channel = 2 AND v.deleted = 0 AND f.status = 4
  AND av.application_id = %(app_id)s
  AND appmin.application_id = %(app_id)s AND appmax.application_id = %(app_id)s
  AND appmin.version_int <= %(version_int)s
  {max_check}
ORDER BY v.id DESC
LIMIT 1"""
MAX_CHECKS = {
    "strict": "AND appmax.version_int >= %(version_int)s",
    "normal": "AND (f.strict_compatibility = 0 OR appmax.version_int >= %(version_int)s)",
    "ignore": "",
}


class TodaysUpdate:
    def __init__(self, database_url, site_url):
        self.pool = Pool(database_url)
        self.site_url = site_url

    def __call__(self, environ, start_response):
        return respond(environ, start_response, self.answer)

    def answer(self, query):
        """(HTTP status, is RDF (never), body text)."""
        try:
            data = dict(parse_qsl(query.encode("latin-1").decode("utf-8"), errors="strict"))
        except UnicodeError:
            return 400, False, "{}"
        if len(query) > 8192 or not all(data.get(k) for k in ("id", "appID", "appVersion")):
            return 400, False, "{}"
        if data["appID"] not in APPS:
            return 400, False, "{}"
        app_id, app_short = APPS[data["appID"]]
        mode = data.get("compatMode", "strict")
        max_check = MAX_CHECKS.get(mode, MAX_CHECKS["ignore"])
        params = {"guid": data["id"], "app_id": app_id, "version_int": version_int(data["appVersion"])}
        addon, row = self.pool.two_queries(ADDON_SQL, VERSION_SQL.format(max_check=max_check), params)
        if addon is None:
            return 200, False, "{}"
        updates = [] if row is None else [self.update(app_short, addon, row)]
        return 200, False, json.dumps({"addons": {data["id"]: {"updates": updates}}})

    def update(self, app_short, addon, row):
        addon_id, slug = addon
        version_id, version, notes, file_id, filename, file_hash, strict, app_min, app_max = row
        gecko = {"strict_min_version": app_min}
        if strict:
            gecko["strict_max_version"] = app_max
        update = {"version": version,
                  "update_link": f"{self.site_url}/{app_short}/downloads/file/{file_id}/"
                                 f"{quote(posixpath.basename(filename))}",
                  "applications": {"gecko": gecko}}
        if file_hash:
            update["update_hash"] = file_hash
        if notes:
            update["update_info_url"] = (
                f"{self.site_url}/%APP_LOCALE%/{app_short}/addon/{quote(slug or str(addon_id), safe='')}"
                f"/versions/{quote(version, safe='')}/updateinfo/")
        return update


def make_app(config=None):
    config = config or load_config()
    if not config.database_url.startswith("mysql"):
        raise SystemExit("vamo/dev/today.py needs VAMO_DATABASE_URL=mysql://...")
    return TodaysUpdate(config.database_url, config.site_url)


def __getattr__(name):
    # `vamo.dev.today:application` for bench/serve_app.py, built on first use.
    if name == "application":
        global application
        application = make_app()
        return application
    raise AttributeError(name)
