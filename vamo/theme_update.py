"""The lightweight-theme update check (D1, D12, D14, D15; docs/theme-check.md).

Firefox asks `[/<locale>]/themes/update-check/<id>[?src=gp]` once a day for
every installed lightweight theme, and replaces the theme when the answer's
`version` changes. The answer is the theme's JSON, `{"converted_theme": ...}`
for a theme migrated to a static theme, or 404 with an empty body.

Unlike the add-on update check, this app keeps no index of every theme in
memory: requests are few next to the update check's, while themes and their
translations in every locale are many. An uncached request costs one SQL
round trip (one statement fetches the theme, its translations and any
migration); the rendered answer then goes into a bounded cache, filed under
the rows it was built from. `ThemeData`, run by the refresher, asks which
of those rows changed since its last pass and drops the answers built from
them, so a change is served within VAMO_REFRESH_SECONDS.

If the database cannot be reached for an uncached request, the answer is 503
with `Retry-After`, and for a few seconds the next uncached requests are
answered so without trying (each attempt could block the worker for the
connect timeout); cached answers keep being served.
"""

import datetime
import json
import re
import time
from typing import NamedTuple
from urllib.parse import quote, unquote_plus

from werkzeug.routing import Rule

from vamo.core import observe
from vamo.core.component import Component
from vamo.core.db import DatabaseError, unix_time
from vamo.core.generations import THEME
from vamo.core.http import (GET_HEAD, NOT_ALLOWED, NOT_FOUND, RETRY_SECONDS, UNAVAILABLE, Answer, ExpiryClock,
                            http_date, send)
from vamo.core.refresh import COMMIT_LAG, Source
from vamo.core.caches import TaggedCache

MAX_AGE = 86400
DEFAULT_LOCALE = "en-US"
MAX_ID = 2 ** 32 - 1  # ids are int unsigned

# -- SQL ------------------------------------------------------------------------------

# One round trip per uncached request. Everything hangs off a one-row anchor,
# so the theme and the migration are both found (or not) independently.
# Lightweight themes are add-on type 9; statuses: 4 approved, 5 disabled,
# 11 deleted (D5). The statement is written once and given the lookup columns
# of the two kinds of id: an add-on id, or a getpersonas id with `?src=gp`.
# Parameters: the id, the locale twice, the id again.
_LOOKUP_TEMPLATE = """
SELECT p.addon_id, p.persona_id, p.header, p.footer, p.accentcolor, p.textcolor,
       p.display_username, p.checksum, p.modified,
       a.id, a.slug, a.name, a.summary, a.current_version, a.modified,
       v.version, v.modified,
       name_here.localized_string, name_here.modified,
       summary_here.localized_string, summary_here.modified,
       name_en.localized_string, name_en.modified,
       summary_en.localized_string, summary_en.modified,
       m.id, m.lightweight_theme_id, m.static_theme_id, m.modified,
       s.current_version, s.modified, sv.modified,
       f.id, f.filename, f.hash, f.modified
FROM (SELECT 1 AS anchor) q
LEFT JOIN personas p ON p.{persona_column} = %s
LEFT JOIN addons a ON a.id = p.addon_id AND a.addontype_id = 9 AND a.status = 4
                  AND a.inactive = 0
LEFT JOIN versions v ON v.id = a.current_version
LEFT JOIN translations name_here ON name_here.id = a.name AND name_here.locale = %s
LEFT JOIN translations summary_here ON summary_here.id = a.summary AND summary_here.locale = %s
LEFT JOIN translations name_en ON name_en.id = a.name AND name_en.locale = 'en-US'
LEFT JOIN translations summary_en ON summary_en.id = a.summary AND summary_en.locale = 'en-US'
LEFT JOIN migrated_personas m ON m.{migrated_column} = %s
LEFT JOIN addons s ON s.id = m.static_theme_id AND s.status NOT IN (5, 11) AND s.inactive = 0
LEFT JOIN versions sv ON sv.id = s.current_version AND sv.channel = 2 AND sv.deleted = 0
LEFT JOIN files f ON f.version_id = sv.id AND f.status = 4
ORDER BY m.id, f.id, p.addon_id
"""
LOOKUP_BY_ADDON_ID = _LOOKUP_TEMPLATE.format(
    persona_column="addon_id", migrated_column="lightweight_theme_id")
LOOKUP_BY_GETPERSONAS_ID = _LOOKUP_TEMPLATE.format(
    persona_column="persona_id", migrated_column="getpersonas_id")

# The rows an answer can be built from, changed since a time, as cache tags.
# Parameter: that time, once per SELECT.
CHANGED_SQL = """
SELECT 'addon', id FROM addons WHERE modified >= %s
UNION ALL SELECT 'addon', addon_id FROM personas WHERE modified >= %s
UNION ALL SELECT 'gp', persona_id FROM personas WHERE modified >= %s
UNION ALL SELECT 'version', id FROM versions WHERE modified >= %s
UNION ALL SELECT 'version', version_id FROM files WHERE modified >= %s
UNION ALL SELECT 'tr', id FROM translations WHERE modified >= %s
UNION ALL SELECT 'addon', lightweight_theme_id FROM migrated_personas WHERE modified >= %s
UNION ALL SELECT 'addon', static_theme_id FROM migrated_personas WHERE modified >= %s
UNION ALL SELECT 'gp', getpersonas_id FROM migrated_personas WHERE modified >= %s
"""
_CHANGED_PARAMS = CHANGED_SQL.count("%s")


class _Row(NamedTuple):
    """A row of the lookup statement, columns in its order."""
    persona_addon_id: int
    persona_id: int
    header: str
    footer: str
    accentcolor: str
    textcolor: str
    username: str
    checksum: str
    persona_modified: datetime.datetime
    addon_id: int
    slug: str
    name_id: int
    summary_id: int
    version_id: int
    addon_modified: datetime.datetime
    version: str
    version_modified: datetime.datetime
    name_here: str
    name_here_modified: datetime.datetime
    summary_here: str
    summary_here_modified: datetime.datetime
    name_en: str
    name_en_modified: datetime.datetime
    summary_en: str
    summary_en_modified: datetime.datetime
    migration_id: int
    lightweight_theme_id: int
    static_theme_id: int
    migration_modified: datetime.datetime
    static_version_id: int
    static_modified: datetime.datetime
    static_version_modified: datetime.datetime
    file_id: int
    filename: str
    file_hash: str
    file_modified: datetime.datetime


# -- requests ---------------------------------------------------------------------------

# A locale is one path segment shaped like AMO's (`de`, `en-US`, `ja-JP-mac`):
# it is written back into `detailURL` and `updateURL`, so nothing else is taken.
LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,2}")


def wants_getpersonas(query_string):
    """Whether the query string asks for a getpersonas id (`src=gp`; last `src` wins)."""
    if query_string == "src=gp":
        return True
    src = ""
    for pair in query_string.split("&"):
        name, _, value = pair.partition("=")
        if value and unquote_plus(name) == "src":
            src = unquote_plus(value)
    return src == "gp"


# -- answers ----------------------------------------------------------------------------

EXPIRY = ExpiryClock(MAX_AGE)


def _json_answer(document, modified):
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    stamps = [stamp for stamp in modified if stamp is not None]
    return Answer.cacheable(body, "application/json", EXPIRY,
                            http_date(unix_time(max(stamps))) if stamps else None)


def _file_url(base, addon_id, filename):
    return f"{base}/{addon_id}/{quote(filename, safe='')}"


class Renderer:
    """Turns the rows of one lookup into an answer and the cache tags it depends on."""

    def __init__(self, config):
        self.site_url = config.site_url
        self.vamo_url = config.vamo_url
        self.addons_url = config.addons_url
        self.migrated_themes = config.migrated_themes

    def render(self, rows, locale, theme_id, getpersonas):
        rows = [_Row(*row) for row in rows]
        tags = {("gp", theme_id) if getpersonas else ("addon", theme_id)}
        for row in rows:
            tags.update((("addon", row.persona_addon_id), ("tr", row.name_id),
                         ("tr", row.summary_id), ("version", row.version_id),
                         ("addon", row.lightweight_theme_id), ("addon", row.static_theme_id),
                         ("version", row.static_version_id)))
        migration = next((row for row in rows if row.migration_id is not None), None)
        theme = next((row for row in rows if row.addon_id is not None), None)
        if migration is not None:
            answer = self.converted(migration) if self.migrated_themes else NOT_FOUND
        elif theme is not None:
            answer = self.lightweight(theme, locale, theme_id, getpersonas)
        else:
            answer = NOT_FOUND
        return answer, frozenset(tag for tag in tags if tag[1] is not None)

    def converted(self, row):
        """Spec 7.5: where to get the static theme that replaced this one."""
        if row.file_id is None:  # the static theme has no servable file
            return NOT_FOUND
        url = (f"{_file_url(self.addons_url, row.static_theme_id, row.filename)}"
               f"?filehash={quote(row.file_hash, safe='')}")
        return _json_answer(
            {"converted_theme": {"url": url, "hash": row.file_hash}},
            (row.migration_modified, row.static_modified, row.static_version_modified,
             row.file_modified))

    def lightweight(self, row, locale, theme_id, getpersonas):
        """Spec 7.4 in its later form (D15)."""
        if row.name_here:
            name, name_modified = row.name_here, row.name_here_modified
            summary, summary_modified = row.summary_here, row.summary_here_modified
        else:  # no name in this locale: all of it in en-US, the URLs too
            locale = DEFAULT_LOCALE
            name, name_modified = row.name_en, row.name_en_modified
            summary, summary_modified = row.summary_en, row.summary_en_modified

        if row.checksum:
            buster = row.checksum[:8]
        elif row.addon_modified is not None:
            buster = str(int(unix_time(row.addon_modified)))
        else:
            buster = "0"

        def image(filename):
            if not filename:
                return ""
            return f"{_file_url(self.addons_url, row.addon_id, filename)}?modified={buster}"

        from_getpersonas = bool(row.persona_id)
        slug = quote(row.slug or str(row.addon_id), safe="")
        update_url = f"{self.vamo_url}/{locale}/themes/update-check/{theme_id}"
        document = {
            "id": str(theme_id),
            "name": name,
            "description": summary,
            "author": row.username,
            "username": row.username,
            "headerURL": image(row.header),
            "footerURL": image(row.footer),
            "detailURL": f"{self.site_url}/{locale}/addon/{slug}/",
            "previewURL": image("preview.jpg" if from_getpersonas else "preview.png"),
            "iconURL": image("preview_small.jpg" if from_getpersonas else "icon.png"),
            "accentcolor": f"#{row.accentcolor}" if row.accentcolor else None,
            "textcolor": f"#{row.textcolor}" if row.textcolor else None,
            "updateURL": (update_url + "?src=gp") if getpersonas else update_url,
            "version": row.version,
        }
        return _json_answer(document, (row.addon_modified, row.persona_modified,
                                       row.version_modified, name_modified, summary_modified))


# -- freshness --------------------------------------------------------------------------


class ThemeData(Source):
    """Drops the cached answers built from rows changed since the last pass (D18).

    The full `load` (at start and every VAMO_RECONCILE_SECONDS) empties the
    cache, which also catches changes that left no `modified` stamp.
    """

    name = "themes"
    app = THEME

    def __init__(self, cache):
        self.cache = cache
        self.since = None

    def load(self, db):
        self.since = db.now() - COMMIT_LAG
        self.cache.clear()
        self.loaded = True

    def refresh(self, db):
        started = db.now()
        changed = {(kind, row_id) for kind, row_id in
                   db.query(CHANGED_SQL, (self.since,) * _CHANGED_PARAMS)}
        if changed:
            self.cache.invalidate(changed)
        self.since = started - COMMIT_LAG


# -- the WSGI app -----------------------------------------------------------------------


class ThemeUpdateApp:
    def __init__(self, config, connections, cache, schema, statsd=None):
        self.schema = schema
        self.connections = connections
        self.cache = cache
        self.renderer = Renderer(config)
        self.retry_at = 0.0  # monotonic time before which the database is not tried
        # `[/<locale>]/themes/update-check/<id>`; any other path holding
        # `/themes/update-check/` is the theme check's too (without an id: 404).
        check = observe.timed(self, "services.theme_update", statsd)
        self.rules = (Rule('/themes/update-check/<re("[0-9]{1,10}"):theme_id>', endpoint=check),
                      Rule('/<locale>/themes/update-check/<re("[0-9]{1,10}"):theme_id>', endpoint=check),
                      Rule('/<holding("/themes/update-check/"):path>', endpoint=check))

    def __call__(self, environ, start_response, theme_id=None, locale=None, path=None):
        """The endpoint of the rules above (`path`: a path holding no theme id)."""
        if environ.get("REQUEST_METHOD") not in GET_HEAD:
            return send(NOT_ALLOWED, environ, start_response)
        if theme_id is None or self.schema.is_off(THEME):  # off: no personas table (D20)
            return send(NOT_FOUND, environ, start_response)
        return send(self.answer(locale, int(theme_id), environ), environ, start_response)

    def answer(self, locale, theme_id, environ):
        # Not cached: a bad locale or id costs nothing, and junk must not evict themes.
        if locale is not None and not LOCALE.fullmatch(locale) or theme_id > MAX_ID:
            return NOT_FOUND
        getpersonas = wants_getpersonas(environ.get("QUERY_STRING", ""))
        key = (locale, theme_id, getpersonas)
        return self.cache.get(key) or self.look_up(key, locale, theme_id, getpersonas)

    def look_up(self, key, locale, theme_id, getpersonas):
        if getpersonas and theme_id == 0:
            return NOT_FOUND  # 0 is every AMO-born theme's persona_id, not a getpersonas id
        if time.monotonic() < self.retry_at:
            return UNAVAILABLE
        sql = LOOKUP_BY_GETPERSONAS_ID if getpersonas else LOOKUP_BY_ADDON_ID
        locale_asked = locale or DEFAULT_LOCALE
        generation = self.cache.generation
        try:
            rows = self.connections.query(sql, (theme_id, locale_asked, locale_asked, theme_id))
        except DatabaseError:
            self.retry_at = time.monotonic() + RETRY_SECONDS
            return UNAVAILABLE
        answer, tags = self.renderer.render(rows, locale_asked, theme_id, getpersonas)
        self.cache.put(key, answer, tags, generation)
        return answer


# The cache's size bound: each answer weighs its body and headers plus this
# much bookkeeping (measured about 2.5 KB in all for a typical answer).
ANSWER_OVERHEAD_BYTES = 1024


def _weigh(key, answer):
    return len(answer.body) + sum(len(name) + len(value) for name, value in answer.headers) + \
        ANSWER_OVERHEAD_BYTES


def create(context):
    size = context.config.theme_cache_size
    cache = TaggedCache(size, max_bytes=size * 2560, weigh=_weigh)
    data = ThemeData(cache)
    app = ThemeUpdateApp(context.config, context.connections, cache, context.schema, context.statsd)
    return Component((data,), app.rules)
