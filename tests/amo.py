"""Hand-made AMO rows for behaviour tests: one call per row, AMO's defaults."""

import itertools

from vamo import compat

FIREFOX = compat.APPS_BY_ID[1]
THUNDERBIRD = compat.APPS_BY_ID[18]
SEAMONKEY = compat.APPS_BY_ID[59]
MOBILE = compat.APPS_BY_ID[60]
ANDROID = compat.APPS_BY_ID[61]

NOW = "NOW()"


class Amo:
    """Writes rows into a vamo.core.db.Database of either schema generation; ids come from the database."""

    def __init__(self, db, generation="classic"):
        self.db = db
        self.generation = generation
        # DATETIME(6) on the current generation: stamps with microseconds, as Django writes them.
        self._now = "NOW(6)" if generation == "current" else "NOW()"
        self._appversions = {}
        self._names = itertools.count(1)

    def _insert(self, table, **row):
        columns = list(row) + ["created", "modified"]
        values = ", ".join(["%s"] * len(row) + [self._now, self._now])
        self.db.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})",
                        tuple(row.values()))
        return self.db.query("SELECT LAST_INSERT_ID()")[0][0]

    def appversion(self, app, version, stored_int=None):
        key = (app.id, version)
        if key not in self._appversions:
            found = self.db.query("SELECT id FROM appversions WHERE application_id = %s AND version = %s",
                                  key)
            if found:
                self._appversions[key] = found[0][0]
                return found[0][0]
            self._appversions[key] = self._insert(
                "appversions", application_id=app.id, version=version,
                version_int=compat.version_int(version) if stored_int is None else stored_int)
        return self._appversions[key]

    def addon(self, guid=None, status=4, type=1, inactive=0, slug=None):
        n = next(self._names)
        return self._insert("addons", guid=guid or f"addon{n}@example.com", slug=slug or f"addon-{n}",
                            addontype_id=type, status=status, inactive=inactive)

    def version(self, addon, version="1.0", channel=2, deleted=0, notes=None):
        return self._insert("versions", addon_id=addon, version=version, channel=channel,
                            deleted=deleted, releasenotes=notes)

    def file(self, version, platform=1, status=4, hash="sha256:abc123", strict=0, binary=0,
             filename=None):
        if self.generation == "current":  # no platforms or binary components; a path
            return self._insert("files", version_id=version, status=status, hash=hash,
                                strict_compatibility=strict,
                                filename=filename or f"{version % 100:02d}/{version}/file-{version}.xpi")
        return self._insert("files", version_id=version, platform_id=platform, status=status,
                            hash=hash, strict_compatibility=strict, binary_components=binary,
                            filename=filename or f"file-{version}-{platform}.xpi")

    def app_range(self, version, app=FIREFOX, min="3.0", max="10.*"):
        return self._insert("applications_versions", application_id=app.id, version_id=version,
                            min=self.appversion(app, min), max=self.appversion(app, max))

    def release(self, addon, version="1.0", app=FIREFOX, min="3.0", max="10.*", platform=1,
                file_status=4, **file_fields):
        """A version with one file and one app range; returns the version id."""
        channel = file_fields.pop("channel", 2)
        deleted = file_fields.pop("deleted", 0)
        notes = file_fields.pop("notes", None)
        vid = self.version(addon, version, channel=channel, deleted=deleted, notes=notes)
        self.file(vid, platform=platform, status=file_status, **file_fields)
        self.app_range(vid, app, min, max)
        return vid

    def override(self, addon, *ranges, guid=None):
        """ranges: (type, min_version, max_version, app, min_app_version, max_app_version)."""
        guid = guid or self.db.query("SELECT guid FROM addons WHERE id = %s", (addon,))[0][0]
        compat_id = self._insert("compat_override", name="override", guid=guid, addon_id=addon)
        for kind, min_v, max_v, app, min_app, max_app in ranges:
            self._insert("compat_override_range", compat_id=compat_id, type=kind, min_version=min_v,
                         max_version=max_v, app_id=app.id, min_app_version=min_app,
                         max_app_version=max_app)
        return compat_id
