"""Which of AMO's schema generations a database holds, and which apps it can serve (D20).

- *classic*: AMO 2015-2021, and addons.thunderbird.net today: platform files
  (`files.platform_id`), `files.binary_components`, compat overrides,
  lightweight themes (`personas`) and the legacy blocklist tables.
- *current*: AMO since 2021: none of those; DATETIME(6); one file per
  version, `files.filename` a relative path.

`inspect` reads the catalogue once (information_schema on MySQL, sqlite_master
on SQLite), picks the generation from `files.platform_id` (or takes the one
VAMO_SCHEMA_GENERATION forces), and checks every column each app reads. The
update check is always on; the theme check and the blocklist are on when
their first table exists, and off (404, "off" in the heartbeat) when it does
not. A table or column that an app needs but lacks is a `SchemaError`: a
permanent, one-line error naming it, not an outage to retry.
"""

import logging
from typing import NamedTuple

from vamo.core.db import DatabaseError

log = logging.getLogger("vamo")

CLASSIC, CURRENT = "classic", "current"
UPDATE, THEME, BLOCKLIST = "update check", "theme check", "blocklist"

_STAMPS = ("id", "modified")
# The columns each app reads, by table (the first table of an optional app
# decides whether it is on).
_UPDATE_COMMON = {
    "addons": ("guid", "slug", "addontype_id", "status", "inactive", *_STAMPS),
    "versions": ("addon_id", "version", "releasenotes", "channel", "deleted", *_STAMPS),
    "files": ("version_id", "filename", "hash", "status", "strict_compatibility", *_STAMPS),
    "applications_versions": ("application_id", "version_id", "min", "max", *_STAMPS),
    "appversions": ("application_id", "version", *_STAMPS),
}
NEEDS = {
    (UPDATE, CURRENT): _UPDATE_COMMON,
    (UPDATE, CLASSIC): {
        **_UPDATE_COMMON,
        "files": _UPDATE_COMMON["files"] + ("platform_id", "binary_components"),
        "compat_override": ("addon_id", *_STAMPS),
        "compat_override_range": ("compat_id", "type", "min_version", "max_version", "app_id",
                                  "min_app_version", "max_app_version", *_STAMPS),
    },
    THEME: {
        "personas": ("addon_id", "persona_id", "header", "footer", "accentcolor", "textcolor",
                     "display_username", "checksum", *_STAMPS),
        "migrated_personas": ("lightweight_theme_id", "static_theme_id", "getpersonas_id", *_STAMPS),
        "translations": ("locale", "localized_string", *_STAMPS),
        "addons": ("name", "summary", "current_version"),
    },
    BLOCKLIST: {
        "blitems": ("guid", "min", "max", "os", "severity", "details_id", "name", "creator",
                    "homepage_url", "update_url", "created", *_STAMPS),
        "bldetails": ("name", "why", "who", "bug", "created", *_STAMPS),
        "blitemprefs": ("blitem_id", "pref", *_STAMPS),
        "blplugins": ("name", "min", "max", "os", "xpcomabi", "description", "filename", "severity",
                      "vulnerability_status", "info_url", "details_id", "created", *_STAMPS),
        "blapps": ("blitem_id", "blplugin_id", "guid", "min", "max", *_STAMPS),
        "blgfxdrivers": ("guid", "os", "vendor", "devices", "feature", "feature_status",
                         "driver_version", "driver_version_max", "driver_version_comparator",
                         "hardware", "application_min", "application_max", "details_id", "created",
                         *_STAMPS),
        "blissuercert": ("issuer", "serial", "details_id", "created", *_STAMPS),
        "blca": ("data", *_STAMPS),
    },
}
OPTIONAL_APPS = (THEME, BLOCKLIST)


class SchemaError(DatabaseError):
    """The database lacks a table or column an app needs: permanent, one line."""

    def __init__(self, message):
        super().__init__(message, permanent=True)


class Schema(NamedTuple):
    generation: str
    apps: frozenset     # the apps that are on
    off: dict           # app -> why it is off ("no personas table")

    def describe(self):
        on = ", ".join(app for app in (UPDATE, THEME, BLOCKLIST) if app in self.apps)
        off = "; ".join(f"{app} off ({why})" for app, why in self.off.items())
        return f"{self.generation} generation: {on} on" + (f"; {off}" if off else "")


def read_columns(db):
    """{table: set of column names} of the database `db` is connected to."""
    if db.dialect == "sqlite":
        tables = [row[0] for row in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: {row[1] for row in db.query(f"PRAGMA table_info('{table}')")}
                for table in tables if table.isidentifier()}
    columns = {}
    for table, column in db.query(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = DATABASE()"):
        columns.setdefault(table, set()).add(column)
    return columns


def _missing(columns, needs):
    """The first 'table' or 'table.column' of `needs` absent from `columns`, or None."""
    for table, wanted in needs.items():
        present = columns.get(table)
        if present is None:
            return table
        for column in wanted:
            if column not in present:
                return f"{table}.{column}"
    return None


def inspect(db, forced=""):
    """The Schema of the database behind `db`; SchemaError when an app lacks a column.

    `forced`: "classic" or "current" to skip the detection (VAMO_SCHEMA_GENERATION).
    """
    columns = read_columns(db)
    if forced:
        generation = forced
    else:
        generation = CLASSIC if "platform_id" in columns.get("files", ()) else CURRENT
    where = f"{generation} generation"
    if forced:
        where += ", as VAMO_SCHEMA_GENERATION says"
    missing = _missing(columns, NEEDS[UPDATE, generation])
    if missing:
        raise SchemaError(f"the database lacks {missing}, which the update check needs ({where})")
    apps, off = {UPDATE}, {}
    for app in OPTIONAL_APPS:
        needs = NEEDS[app]
        first = next(iter(needs))
        if first not in columns:
            off[app] = f"no {first} table"
            continue
        missing = _missing(columns, needs)
        if missing:
            raise SchemaError(f"the database lacks {missing}, which the {app} needs ({where})")
        apps.add(app)
    return Schema(generation, frozenset(apps), off)


class SchemaState:
    """The Schema once the refresher has read it (None before the database answered).

    Shared by the apps (an app that is off answers 404) and the refresher.
    """

    def __init__(self, forced=""):
        self.forced = forced
        self.schema = None

    def of(self, db):
        """The Schema, read from `db` the first time (SchemaError when it lacks a column)."""
        if self.schema is None:
            self.schema = inspect(db, self.forced)
            log.info("database schema: %s", self.schema.describe())
        return self.schema

    def is_off(self, app):
        """Whether the database is known to lack `app`'s tables (not yet known: False)."""
        schema = self.schema
        return schema is not None and app is not None and app not in schema.apps

    @property
    def generation(self):
        return self.schema.generation if self.schema else None
