"""The blocklist tables in memory: loading, change detection, per-application selection.

The bl* tables are small (thousands of rows), so `BlocklistData` loads all
of them into a `Generation`: immutable rows plus indexes, and a memo where the
renderers keep what they computed for this data (selections, XML, pages,
gzip bodies). A change in the database makes a new generation, swapped in by
reference; requests hold the generation they started with.

Change detection (`refresh`) is one query per pass: COUNT(*), MAX(modified)
and MAX(id) of every table. A deleted row changes a COUNT; an edit through
AMO moves MAX(modified). Two edits within the same second can leave
MAX(modified) where it was, so while the newest `modified` is within
COMMIT_LAG (vamo/core/refresh.py) of the database clock every pass reloads (and swaps only if
the rows differ). Anything else (raw SQL that keeps `modified`) is caught by
the refresher's periodic full `load`.

Selection follows AMO's queries (docs/blocklist.md, "Selection") with the latent bugs
of docs/blocklist.md, "Fixed on purpose", fixed: block ids compared as numbers, a deterministic order
everywhere, items without a GUID never merged with each other.
"""

import bisect
import datetime
import time
from typing import NamedTuple

from vamo.compat import version_int
from vamo.core.db import as_datetime
from vamo.core.generations import BLOCKLIST
from vamo.core.refresh import COMMIT_LAG, Source

FINGERPRINT_SQL = """
SELECT 'bldetails', COUNT(*), MAX(modified), MAX(id) FROM bldetails
UNION ALL SELECT 'blitems', COUNT(*), MAX(modified), MAX(id) FROM blitems
UNION ALL SELECT 'blitemprefs', COUNT(*), MAX(modified), MAX(id) FROM blitemprefs
UNION ALL SELECT 'blplugins', COUNT(*), MAX(modified), MAX(id) FROM blplugins
UNION ALL SELECT 'blapps', COUNT(*), MAX(modified), MAX(id) FROM blapps
UNION ALL SELECT 'blgfxdrivers', COUNT(*), MAX(modified), MAX(id) FROM blgfxdrivers
UNION ALL SELECT 'blissuercert', COUNT(*), MAX(modified), MAX(id) FROM blissuercert
UNION ALL SELECT 'blca', COUNT(*), MAX(modified), MAX(id) FROM blca
"""
DETAILS_SQL = "SELECT id, name, why, who, bug, created, modified FROM bldetails ORDER BY id"
ITEMS_SQL = """
SELECT id, guid, min, max, os, severity, details_id, name, creator, homepage_url, update_url,
       created, modified
FROM blitems ORDER BY id"""
PREFS_SQL = "SELECT id, blitem_id, pref, modified FROM blitemprefs ORDER BY id"
PLUGINS_SQL = """
SELECT id, name, min, max, os, xpcomabi, description, filename, severity, vulnerability_status,
       info_url, details_id, created, modified
FROM blplugins ORDER BY id"""
APPS_SQL = "SELECT id, blitem_id, blplugin_id, guid, min, max, modified FROM blapps ORDER BY id"
GFX_SQL = """
SELECT id, guid, os, vendor, devices, feature, feature_status, driver_version, driver_version_max,
       driver_version_comparator, hardware, application_min, application_max, details_id,
       created, modified
FROM blgfxdrivers ORDER BY id"""
CERTS_SQL = "SELECT id, issuer, serial, details_id, created, modified FROM blissuercert ORDER BY id"
CA_SQL = "SELECT id, data, modified FROM blca ORDER BY id"

# The second certItem form (subject + public key hash) has no
# columns in AMO's schema. vamo reads it from a blissuercert row whose
# `serial` starts with this marker (base64 never contains ':'), the subject
# being in `issuer`; see docs/blocklist.md.
PUBKEY_HASH_MARKER = "pubKeyHash:"


class Detail(NamedTuple):
    id: int
    name: str
    why: str
    who: str
    bug: str
    created: datetime.datetime | None
    modified: datetime.datetime | None


class Item(NamedTuple):
    id: int
    guid: str | None
    min: str | None
    max: str | None
    os: str | None
    severity: int | None
    details_id: int | None
    name: str | None
    creator: str | None
    homepage_url: str | None
    update_url: str | None
    created: datetime.datetime | None
    modified: datetime.datetime | None


class Pref(NamedTuple):
    id: int
    blitem_id: int
    pref: str
    modified: datetime.datetime | None


class Plugin(NamedTuple):
    id: int
    name: str | None
    min: str | None
    max: str | None
    os: str | None
    xpcomabi: str | None
    description: str | None
    filename: str | None
    severity: int | None
    vulnerability_status: int | None
    info_url: str | None
    details_id: int | None
    created: datetime.datetime | None
    modified: datetime.datetime | None

    @property
    def vulnerability(self):
        """The status the XML shows: only with severity 0, and only 1 or 2 (bug 778365)."""
        if self.severity == 0 and self.vulnerability_status in (1, 2):
            return self.vulnerability_status
        return None


class App(NamedTuple):
    id: int
    blitem_id: int | None
    blplugin_id: int | None
    guid: str | None
    min: str | None
    max: str | None
    modified: datetime.datetime | None


class Gfx(NamedTuple):
    id: int
    guid: str | None
    os: str | None
    vendor: str | None
    devices: str | None
    feature: str | None
    feature_status: str | None
    driver_version: str | None
    driver_version_max: str | None
    driver_version_comparator: str | None
    hardware: str | None
    application_min: str | None
    application_max: str | None
    details_id: int | None
    created: datetime.datetime | None
    modified: datetime.datetime | None


class Cert(NamedTuple):
    id: int
    issuer: str
    serial: str
    details_id: int | None
    created: datetime.datetime | None
    modified: datetime.datetime | None

    @property
    def pubkey_hash(self):
        """The public key hash of a subject-form row, or None for the issuer form."""
        if self.serial.startswith(PUBKEY_HASH_MARKER):
            return self.serial[len(PUBKEY_HASH_MARKER):]
        return None


class CA(NamedTuple):
    id: int
    data: str
    modified: datetime.datetime | None


class Tables(NamedTuple):
    details: tuple
    items: tuple
    prefs: tuple
    plugins: tuple
    apps: tuple
    gfx: tuple
    certs: tuple
    cas: tuple


class ItemGroup(NamedTuple):
    """One <emItem>: the blitems of one GUID selected for an application."""
    guid: str | None
    rows: tuple          # ((Item, (App, ...)), ...) by blitems.id
    os: str | None
    block_id: int | None  # the lowest details id, numerically
    modified: datetime.datetime | None
    prefs: tuple         # pref names, blitem by blitem


class PluginRow(NamedTuple):
    """One <pluginItem>: a plugin joined with one of its blapps rows (or none)."""
    plugin: Plugin
    app: App | None


def _blank_to_none(value):
    # AMO's BlocklistBase.save stored empty strings as NULL; rows written
    # by other means render the same way.
    return None if value == "" else value


def _rows(db, sql, kind, nullable=()):
    rows = []
    for raw in db.query(sql):
        values = list(raw)
        for index in nullable:
            values[index] = _blank_to_none(values[index])
        for index, field in enumerate(kind._fields):
            if field in ("created", "modified"):
                values[index] = as_datetime(values[index])
        rows.append(kind(*values))
    return tuple(rows)


def load_tables(db):
    return Tables(
        details=_rows(db, DETAILS_SQL, Detail),
        items=_rows(db, ITEMS_SQL, Item, nullable=(1, 2, 3, 4, 7, 8, 9, 10)),
        prefs=_rows(db, PREFS_SQL, Pref),
        plugins=_rows(db, PLUGINS_SQL, Plugin, nullable=(1, 2, 3, 4, 5, 6, 7, 10)),
        apps=_rows(db, APPS_SQL, App, nullable=(4, 5)),
        gfx=_rows(db, GFX_SQL, Gfx, nullable=tuple(range(2, 13))),
        certs=_rows(db, CERTS_SQL, Cert),
        cas=_rows(db, CA_SQL, CA),
    )


def epoch_ms(value):
    """Milliseconds since the epoch of a naive `modified`, read in the process's
    local time zone as AMO did (docs/blocklist.md: lastupdate): run vamo with TZ set to the zone
    the database's timestamps are written in."""
    return int(time.mktime(value.timetuple())) * 1000


def _newest(stamps):
    stamps = [stamp for stamp in stamps if stamp is not None]
    return max(stamps) if stamps else None


class Generation:
    """One consistent view of the blocklist tables, and what was computed from it."""

    def __init__(self, tables, loaded_at):
        self.tables = tables
        self.loaded_at = loaded_at  # Unix time: the stand-in when no row dates anything
        self.details = {detail.id: detail for detail in tables.details}
        self.apps_by_item, self.apps_by_plugin = {}, {}
        for app in tables.apps:
            if app.blitem_id is not None:
                self.apps_by_item.setdefault(app.blitem_id, []).append(app)
            if app.blplugin_id is not None:
                self.apps_by_plugin.setdefault(app.blplugin_id, []).append(app)
        self.prefs_by_item = {}
        for pref in tables.prefs:
            self.prefs_by_item.setdefault(pref.blitem_id, []).append(pref.pref)
        # Pages look entries up by details id (unique per table).
        self.item_by_block = {i.details_id: i for i in tables.items if i.details_id is not None}
        self.plugin_by_block = {p.details_id: p for p in tables.plugins if p.details_id is not None}
        # Application GUIDs some row names (MySQL compares them case-insensitively);
        # any other requested application gets the answer for "no application".
        self.known_apps = frozenset(
            row.guid.lower() for row in tables.apps + tables.gfx if row.guid)
        changed = _newest(row.modified for table in tables for row in table)
        self.changed_ms = epoch_ms(changed) if changed else int(loaded_at) * 1000
        self.memo = {}

    def memoized(self, key, build):
        """build() once per generation; a None result is not kept."""
        value = self.memo.get(key)
        if value is None:
            value = build()
            if value is not None:
                self.memo[key] = value
        return value

    def app_key(self, app):
        """The application a request names, reduced to one the data knows (or None)."""
        lowered = app.lower()
        return lowered if lowered in self.known_apps else None

    # -- selection (docs/blocklist.md) ---------------------------------------------------
    def item_groups(self, app_key):
        return self.memoized(("item_groups", app_key), lambda: self._item_groups(app_key))

    def _item_groups(self, app_key):
        groups = {}
        for item in self.tables.items:
            apps = self.apps_by_item.get(item.id)
            if apps:
                joined = [app for app in apps if app.guid is None or app.guid.lower() == app_key]
                if not joined:
                    continue  # its ranges all name other applications
                apps = tuple(app for app in joined if app.guid)
            # Items without a GUID match by name or other filters: never merge them.
            key = (0, item.guid) if item.guid is not None else (1, item.id)
            groups.setdefault(key, []).append((item, apps or ()))
        result = []
        for key in sorted(groups):
            rows = groups[key]
            items = [item for item, _ in rows]
            block_ids = [item.details_id for item in items if item.details_id is not None]
            result.append(ItemGroup(
                guid=items[0].guid,
                rows=tuple(rows),
                os=next((item.os for item in items if item.os), None),
                block_id=min(block_ids) if block_ids else None,
                modified=_newest(item.modified for item in items),
                prefs=tuple(pref for item in items for pref in self.prefs_by_item.get(item.id, ())),
            ))
        return tuple(result)

    def plugin_rows(self, app_key):
        return self.memoized(("plugin_rows", app_key), lambda: self._plugin_rows(app_key))

    def _plugin_rows(self, app_key):
        rows = []
        for plugin in self.tables.plugins:
            apps = self.apps_by_plugin.get(plugin.id)
            if not apps:
                rows.append(PluginRow(plugin, None))
                continue
            for app in apps:
                if app.guid is None or app.guid.lower() == app_key:
                    rows.append(PluginRow(plugin, app))
        return tuple(rows)

    def legacy_plugin_rows(self, app_key, appver_int):
        """API 1 and 2 clients ignore targetApplication on plugins: keep a row whose
        application range is open or strictly contains the client's version."""
        def inside(row):
            app = row.app
            if app is None or not (app.min and app.max):
                return True
            return version_int(app.min) < appver_int < version_int(app.max)
        return tuple(row for row in self.plugin_rows(app_key) if inside(row))

    def legacy_bucket(self, app_key, appver_int):
        """A key that is equal for two application versions exactly when the API 1-2
        plugin filter keeps the same rows for both (it only compares with these bounds)."""
        bounds = self.memoized(("plugin_bounds", app_key), lambda: tuple(sorted({
            version_int(bound) for row in self.plugin_rows(app_key)
            if row.app is not None and row.app.min and row.app.max
            for bound in (row.app.min, row.app.max)})))
        index = bisect.bisect_left(bounds, appver_int)
        return index, index < len(bounds) and bounds[index] == appver_int

    def gfx_rows(self, app_key):
        return self.memoized(("gfx_rows", app_key), lambda: tuple(
            gfx for gfx in self.tables.gfx if gfx.guid is None or gfx.guid.lower() == app_key))

    def lastupdate(self, groups, plugins, gfx):
        """lastupdate (docs/blocklist.md): the newest `modified` of the selected items, plugins and gfx entries, in ms;
        when nothing is selected, the time this generation was loaded (stable across requests)."""
        newest = _newest([group.modified for group in groups]
                         + [row.plugin.modified for row in plugins]
                         + [entry.modified for entry in gfx])
        return epoch_ms(newest) if newest else int(self.loaded_at) * 1000


class BlocklistData(Source):
    """Keeps the current `Generation` of the blocklist tables in `generation`."""

    name = "blocklist"
    app = BLOCKLIST

    def __init__(self):
        self.generation = None
        self._fingerprint = None

    def load(self, db):
        # The fingerprint is read first: a change landing during the load is
        # in the rows already and makes the next pass reload once more.
        fingerprint = db.query(FINGERPRINT_SQL)
        tables = load_tables(db)
        current = self.generation
        if current is None or current.tables != tables:
            self.generation = Generation(tables, time.time())
        self._fingerprint = (tuple(fingerprint), self._recent(db, fingerprint))
        self.loaded = True

    def refresh(self, db):
        fingerprint = db.query(FINGERPRINT_SQL)
        previous, recent = self._fingerprint
        if recent or tuple(fingerprint) != previous:
            self.load(db)

    @staticmethod
    def _recent(db, fingerprint):
        newest = _newest(as_datetime(row[2]) for row in fingerprint)
        if newest is None:
            return False
        return abs(db.now() - newest) <= COMMIT_LAG
