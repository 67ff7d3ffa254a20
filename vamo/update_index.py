"""The update check's data: every candidate of every eligible add-on, in memory.

Loaded by hand-written SQL (below, the only SQL of the update check) into an
index keyed by the lower-cased add-on GUID (MySQL matched GUIDs through a
case-insensitive collation). Each entry holds, per application, the
candidate (version, file, app range) rows that pass the status rules (D5),
sorted the way they are tried (D9: highest version id first; within one
version a platform-specific file before the all-platform one), with
version_int recomputed from `appversions.version` and compat overrides
compiled to integer intervals (D8). A request then needs no SQL.

`UpdateData` is the refresher's Source (D18): `refresh` re-reads just what
carries a `modified` newer than the last pass (asking again for an overlap
before it, for transactions that committed late, and skipping the rows it
has already applied): the changed versions of an indexed add-on, or the
whole add-on when its own row or its overrides changed. `load` reloads
everything and is also the periodic reconciliation that catches changes
without a timestamp. Both build new entries off to the side and swap them in one
reference at a time, then tell the response cache which add-ons changed.
"""

import collections
import datetime
import logging
import time
from typing import NamedTuple

from vamo import compat
from vamo.db import as_datetime, unix_time
from vamo.refresh import Source

log = logging.getLogger("vamo.update")

# D5: add-on not deleted (11) or disabled (5) or inactive, with a GUID;
# version listed (channel 2) and not deleted; file approved (4).
_ELIGIBLE_ADDON = "a.status NOT IN (5, 11) AND a.inactive = 0 AND a.guid IS NOT NULL AND a.guid <> ''"

ADDONS_SQL = f"""
SELECT a.id, a.guid, a.addontype_id, a.slug, a.modified
FROM addons a
WHERE {_ELIGIBLE_ADDON}{{filter}}"""

CANDIDATES_SQL = f"""
SELECT v.addon_id, v.id, v.version, v.releasenotes, v.modified,
       f.id, f.platform_id, f.filename, f.hash, f.strict_compatibility, f.binary_components,
       f.modified, av.application_id, av.min, av.max, av.modified
FROM versions v
JOIN addons a ON a.id = v.addon_id
JOIN files f ON f.version_id = v.id
JOIN applications_versions av ON av.version_id = v.id
WHERE {_ELIGIBLE_ADDON} AND v.channel = 2 AND v.deleted = 0 AND f.status = 4{{filter}}"""

OVERRIDES_SQL = """
SELECT co.addon_id, cr.type, cr.min_version, cr.max_version, cr.app_id,
       cr.min_app_version, cr.max_app_version, co.modified, cr.modified
FROM compat_override co
JOIN compat_override_range cr ON cr.compat_id = co.id
WHERE co.addon_id IS NOT NULL{filter}"""

# The versions an override's add-on version strings resolve against: every
# version of the add-on that is not deleted, listed or not.
OVERRIDE_VERSIONS_SQL = """
SELECT v.addon_id, v.id, v.version
FROM versions v
WHERE v.deleted = 0
  AND v.addon_id IN (SELECT co.addon_id FROM compat_override co WHERE co.addon_id IS NOT NULL){filter}"""

# Add-ons among some that have compat overrides: their compiled overrides
# depend on all their versions, so a changed version rebuilds the whole add-on.
WITH_OVERRIDES_SQL = "SELECT DISTINCT co.addon_id FROM compat_override co WHERE co.addon_id IS NOT NULL{filter}"

APPVERSIONS_SQL = "SELECT id, application_id, version FROM appversions"
APPVERSIONS_STATE_SQL = "SELECT COUNT(*), MAX(modified) FROM appversions"

# Rows modified since a moment, as (table, row id, add-on id, version id,
# modified); one bound parameter per part. The table numbers only tell rows
# apart; the version id (NULL for add-on and override rows) lets a refresh
# re-read just the changed versions of an add-on with a long history.
CHANGED_SQL = """
SELECT 1, a.id, a.id, NULL, a.modified FROM addons a WHERE a.modified >= %s
UNION ALL
SELECT 2, v.id, v.addon_id, v.id, v.modified FROM versions v WHERE v.modified >= %s
UNION ALL
SELECT 3, f.id, v.addon_id, v.id, f.modified FROM files f JOIN versions v ON v.id = f.version_id
WHERE f.modified >= %s
UNION ALL
SELECT 4, av.id, v.addon_id, v.id, av.modified FROM applications_versions av
JOIN versions v ON v.id = av.version_id WHERE av.modified >= %s
UNION ALL
SELECT 5, co.id, co.addon_id, NULL, co.modified FROM compat_override co
WHERE co.addon_id IS NOT NULL AND co.modified >= %s
UNION ALL
SELECT 6, cr.id, co.addon_id, NULL, cr.modified FROM compat_override_range cr
JOIN compat_override co ON co.id = cr.compat_id WHERE co.addon_id IS NOT NULL AND cr.modified >= %s"""
_CHANGED_PARTS = 6

MAX_MODIFIED_SQL = """
SELECT MAX(m) FROM (
  SELECT MAX(modified) AS m FROM addons UNION ALL SELECT MAX(modified) FROM versions
  UNION ALL SELECT MAX(modified) FROM files UNION ALL SELECT MAX(modified) FROM applications_versions
  UNION ALL SELECT MAX(modified) FROM compat_override UNION ALL SELECT MAX(modified) FROM compat_override_range
) AS latest"""

_IN_BATCH = 500
# A refresh asks again for rows modified this long before the newest one it
# saw: a transaction that commits late carries an older `modified`.
OVERLAP = datetime.timedelta(seconds=30)
# A row read this long after its `modified` (by the database's clock) is not
# re-applied when it comes back in the overlap: a second change within the
# same second (DATETIME has whole seconds) would have been visible by then.
SETTLED = datetime.timedelta(seconds=2)

# RDF `urn:mozilla:<type>:<guid>` by add-on type (ADDON_SLUGS_UPDATE); types
# without one (0, 8) read as extensions.
UPDATE_TYPE_SLUGS = {1: "extension", 2: "theme", 3: "extension", 4: "search", 5: "item",
                     6: "extension", 7: "plugin", 9: "background-theme", 10: "static-theme",
                     11: "app"}


class Release(NamedTuple):
    """What an answer shows of one (version, file); shared by its app ranges."""
    version_id: int
    version: str
    file_id: int
    filename: str
    hash: str
    strict: bool      # files.strict_compatibility: the answer carries strict_max_version
    has_notes: bool   # versions.releasenotes set: the answer carries update_info_url


class Candidate(NamedTuple):
    """One (version, file, app range) row, compiled for `compat.qualifies`."""
    version_id: int
    min_int: int
    max_int: int
    platform_id: int
    strict_file: bool  # strict_compatibility or binary_components: normal mode checks max
    file_id: int
    min_version: str
    max_version: str
    release: Release


class AddonEntry(NamedTuple):
    id: int
    guid: str           # as stored (the answer echoes the id as sent, D10)
    type_slug: str
    slug: str
    candidates: dict    # app id -> tuple of Candidate, in the order they are tried
    overrides: dict     # app id -> compiled exclusion intervals (compat.compile_overrides)
    modified: float     # Unix time of the newest row behind this entry

    def same_answers(self, other):
        """Whether `other` answers every request as this entry does (ignores `modified`)."""
        return other is not None and self[:6] == other[:6]


def _candidate_order(candidate):
    return (-candidate.version_id, candidate.platform_id == compat.PLATFORM_ALL, -candidate.file_id)


def _in_filter(column, ids):
    return f" AND {column} IN ({', '.join(['%s'] * len(ids))})"


def _batches(ids):
    ids = sorted(ids)
    for start in range(0, len(ids), _IN_BATCH):
        yield ids[start:start + _IN_BATCH]


def _select(db, sql, column, addon_ids):
    """Rows of `sql` for every add-on (addon_ids None) or for those ids only."""
    if addon_ids is None:
        yield from db.stream(sql.format(filter=""))
        return
    for batch in _batches(addon_ids):
        yield from db.query(sql.format(filter=_in_filter(column, batch)), tuple(batch))


def load_appversions(db):
    """{appversions.id: (application id, version string, version_int)}."""
    return {row[0]: (row[1], row[2], compat.version_int(row[2])) for row in db.query(APPVERSIONS_SQL)}


def build_candidates(db, appversions, column, ids):
    """The candidates of the rows whose `column` is among `ids` (every row when
    None): ({add-on id: {app id: [Candidate]}}, {add-on id: newest `modified`})."""
    per_addon = collections.defaultdict(lambda: collections.defaultdict(list))
    modified = {}
    releases = {}
    for (addon_id, version_id, version, notes, v_modified, file_id, platform_id, filename, file_hash,
         strict, binary, f_modified, app_id, min_id, max_id, av_modified) in _select(
            db, CANDIDATES_SQL, column, ids):
        low, high = appversions.get(min_id), appversions.get(max_id)
        # The range's bounds must exist and belong to the range's application.
        if low is None or high is None or low[0] != app_id or high[0] != app_id:
            continue
        release = releases.get(file_id)
        if release is None:
            release = releases[file_id] = Release(
                version_id, version, file_id, filename or "", file_hash or "", bool(strict), bool(notes))
        per_addon[addon_id][app_id].append(Candidate(
            version_id, low[2], high[2], platform_id, bool(strict or binary), file_id,
            low[1], high[1], release))
        modified[addon_id] = max(modified.get(addon_id, 0.0), unix_time(v_modified),
                                 unix_time(f_modified), unix_time(av_modified))
    return per_addon, modified


def _sorted_candidates(by_app):
    return {app_id: tuple(sorted(rows, key=_candidate_order)) for app_id, rows in by_app.items() if rows}


def build_entries(db, appversions, addon_ids=None):
    """Entries of the eligible add-ons among `addon_ids` (all when None), by add-on id."""
    addons = {row[0]: row for row in _select(db, ADDONS_SQL, "a.id", addon_ids)}
    per_addon, candidates_modified = build_candidates(db, appversions, "v.addon_id", addon_ids)
    modified = {addon_id: max(unix_time(row[4]), candidates_modified.get(addon_id, 0.0))
                for addon_id, row in addons.items()}

    ranges = collections.defaultdict(list)
    for addon_id, kind, min_v, max_v, app_id, min_app, max_app, co_mod, cr_mod in _select(
            db, OVERRIDES_SQL, "co.addon_id", addon_ids):
        if addon_id in addons:
            ranges[addon_id].append((kind, min_v, max_v, app_id, min_app, max_app))
            modified[addon_id] = max(modified[addon_id], unix_time(co_mod), unix_time(cr_mod))
    versions = collections.defaultdict(list)
    if ranges:
        for addon_id, version_id, version in _select(db, OVERRIDE_VERSIONS_SQL, "v.addon_id",
                                                     addon_ids):
            if addon_id in ranges:
                versions[addon_id].append((version_id, version))

    entries = {}
    for addon_id, (_, guid, type_id, slug, _) in addons.items():
        by_app = per_addon.get(addon_id, {})
        entries[addon_id] = AddonEntry(
            addon_id, guid, UPDATE_TYPE_SLUGS.get(type_id, "extension"), slug or str(addon_id),
            _sorted_candidates(by_app),
            compat.compile_overrides(ranges.get(addon_id, ()), versions.get(addon_id, ())),
            modified[addon_id])
    return entries


class UpdateData(Source):
    """The index the update check answers from, kept fresh by the refresher."""

    name = "update_data"

    def __init__(self, on_change=None):
        self.index = {}           # lower-cased GUID -> AddonEntry
        self.keys = {}            # add-on id -> its key in `index`
        self.loaded = False
        self.loaded_at = 0.0      # Unix time of the last full load
        self.on_change = on_change or (lambda keys: None)
        self._appversions_state = None
        self._appversions = {}
        self._newest = None       # newest `modified` seen
        self._since = None        # the next refresh asks for rows modified at or after this
        self._applied = set()     # (table, row id, modified) applied and settled, since `_since`
        self.last_load_seconds = None
        self.last_refresh_seconds = None
        self.last_refresh_addons = 0

    # -- full load / reconciliation ------------------------------------------------------
    def load(self, db):
        started = time.monotonic()
        newest = db.query(MAX_MODIFIED_SQL)[0][0]
        state = db.query(APPVERSIONS_STATE_SQL)[0]
        appversions = load_appversions(db)
        entries = build_entries(db, appversions)
        index, keys = {}, {}
        for addon_id, entry in entries.items():
            key = entry.guid.lower()
            index[key] = entry
            keys[addon_id] = key
        changed = [key for key, entry in index.items() if not entry.same_answers(self.index.get(key))]
        changed += [key for key in self.index if key not in index]
        self.index, self.keys = index, keys  # one reference each: requests see old or new
        self._appversions, self._appversions_state = appversions, state
        self._newest, self._since, self._applied = as_datetime(newest), None, set()
        self._advance(db.now())
        self.loaded = True
        self.loaded_at = time.time()
        self.last_load_seconds = time.monotonic() - started
        if changed:
            self.on_change(changed)
        log.info("update data loaded: %d add-ons in %.2f s (%d changed)", len(index),
                 self.last_load_seconds, len(changed))

    # -- incremental refresh --------------------------------------------------------------
    def refresh(self, db):
        started = time.monotonic()
        state = db.query(APPVERSIONS_STATE_SQL)[0]
        if state != self._appversions_state:
            # An application version changed: every add-on may answer differently.
            return self.load(db)
        now = db.now()
        rows = [(table, row_id, addon_id, version_id, as_datetime(modified))
                for table, row_id, addon_id, version_id, modified
                in db.query(CHANGED_SQL, (self._since,) * _CHANGED_PARTS)]
        # Rows already applied come back while they are in the overlap: skip them.
        fresh = [row for row in rows if (row[0], row[1], row[4]) not in self._applied]
        whole, versions = self._plan(db, fresh)
        if whole:
            self.apply(build_entries(db, self._appversions, whole), whole)
        if versions:
            self.apply(self._patch_versions(db, versions), versions.keys())
        settled = now - SETTLED
        self._applied.update((table, row_id, modified) for table, row_id, _, _, modified in fresh
                             if modified is not None and modified < settled)
        newest = max((row[4] for row in rows if row[4] is not None), default=None)
        if newest is not None and (self._newest is None or newest > self._newest):
            self._newest = newest
        self._advance(now)
        self.last_refresh_seconds = time.monotonic() - started
        self.last_refresh_addons = len(whole) + len(versions)

    def _plan(self, db, rows):
        """Split the changed add-ons: (ids to rebuild whole, {id: changed version ids}).

        A version, file or app range row of an indexed add-on re-reads only its
        version: a new release of an add-on with a thousand versions costs one
        version's rows, not a thousand. Add-on and override rows, add-ons not
        indexed yet, and add-ons with overrides (compiled against all their
        versions) are rebuilt whole.
        """
        whole, versions = set(), collections.defaultdict(set)
        for _, _, addon_id, version_id, _ in rows:
            if version_id is None or addon_id not in self.keys:
                whole.add(addon_id)
            else:
                versions[addon_id].add(version_id)
        partial = set(versions) - whole
        if partial:
            whole.update(row[0] for row in _select(db, WITH_OVERRIDES_SQL, "co.addon_id", partial))
        return whole, {addon_id: ids for addon_id, ids in versions.items() if addon_id not in whole}

    def _patch_versions(self, db, versions):
        """Entries of indexed add-ons with the candidates of `versions` ({add-on id: version ids}) re-read."""
        per_addon, modified = build_candidates(
            db, self._appversions, "v.id", set().union(*versions.values()))
        entries = {}
        for addon_id, changed in versions.items():
            old = self.index[self.keys[addon_id]]
            by_app = collections.defaultdict(list)
            for app_id, candidates in old.candidates.items():
                by_app[app_id].extend(c for c in candidates if c.version_id not in changed)
            for app_id, candidates in per_addon.get(addon_id, {}).items():
                by_app[app_id].extend(candidates)
            entries[addon_id] = old._replace(candidates=_sorted_candidates(by_app),
                                             modified=max(old.modified, modified.get(addon_id, 0.0)))
        return entries

    def apply(self, entries, addon_ids):
        """Swap in fresh entries for `addon_ids` (absent from `entries`: no longer eligible)."""
        changed = []
        for addon_id in addon_ids:
            entry = entries.get(addon_id)
            old_key = self.keys.get(addon_id)
            new_key = entry.guid.lower() if entry else None
            if old_key is not None and old_key != new_key:
                self.index.pop(old_key, None)
                del self.keys[addon_id]
                changed.append(old_key)
            if entry is not None:
                previous = self.index.get(new_key)
                if entry.same_answers(previous):
                    continue
                if previous is not None:
                    # The answer changes now, even if no row carries a newer time.
                    entry = entry._replace(modified=max(entry.modified, previous.modified, time.time()))
                self.index[new_key] = entry
                self.keys[addon_id] = new_key
                changed.append(new_key)
        if changed:
            self.on_change(changed)

    def _advance(self, now):
        """Move the start of the next refresh's window: the overlap before the
        newest `modified` seen, but never after the database's clock (a writer
        whose clock runs behind the database's must still be read; one whose
        clock runs ahead must not hide later changes)."""
        newest = self._newest if self._newest is not None else now
        since = min(newest, now) - OVERLAP
        if self._since is None or since > self._since:
            self._since = since
            self._applied = {seen for seen in self._applied if seen[2] >= since}
