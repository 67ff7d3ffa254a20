"""AMO rows and XPI files for the end-to-end tests, per schema generation.

A generation knows its tables and where vamo's `update_link` points, so it
puts each XPI where the local file server serves that link. Everything
specific to one generation's tables and links sits in its class; a new
generation is a class with the same methods, added to the `generation`
fixture's params in tests/test_e2e.py.
"""

import hashlib
import os

from tests.amo import Amo


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Classic:
    """AMO's classic tables (files.platform_id, binary_components, compat overrides).

    update_link = VAMO_ADDONS_URL/<addon id>/<filename>?filehash=<hash>.
    """

    name = "classic"
    clients = ("firefox", "thunderbird")

    def __init__(self, db, files_url, files_dir):
        self.db = db
        self.amo = Amo(db, self.name)
        self.files_url = files_url
        self.files_dir = files_dir

    def vamo_env(self):
        return {"VAMO_ADDONS_URL": self.files_url}

    def addon(self, guid, status=4):
        return self.amo.addon(guid=guid, status=status)

    def release(self, addon, version, xpi, app, min, max, strict=False, hash=None):
        """A listed version with one approved all-platform file of the XPI bytes `xpi`.

        `hash` overrides the file's stored hash (default: the XPI's sha256)."""
        filename = f"addon-{addon}-{version}.xpi"
        vid = self.amo.release(addon, version, app=app, min=min, max=max, strict=int(strict),
                               hash=hash or sha256(xpi), filename=filename)
        folder = os.path.join(self.files_dir, str(addon))
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, filename), "wb") as out:
            out.write(xpi)
        return vid

    def set_status(self, addon, status):
        """Change the add-on's status as AMO does, with a new `modified` for the refresher."""
        self.db.execute("UPDATE addons SET status = %s, modified = NOW() WHERE id = %s", (status, addon))


class Current(Classic):
    """AMO's tables since 2021: one file per version, `filename` a path, DATETIME(6).

    update_link = VAMO_SITE_URL/<app>/downloads/file/<file id>/<basename>; only
    Firefox and Android are answered (Thunderbird asks addons.thunderbird.net).
    """

    name = "current"
    clients = ("firefox",)

    def vamo_env(self):
        return {"VAMO_SITE_URL": self.files_url}

    def release(self, addon, version, xpi, app, min, max, strict=False, hash=None):
        basename = f"addon-{addon}-{version}.xpi"
        vid = self.amo.release(addon, version, app=app, min=min, max=max, strict=int(strict),
                               hash=hash or sha256(xpi),
                               filename=f"{addon % 100:02d}/{addon % 10000:04d}/{addon}/{basename}")
        file_id = self.db.query("SELECT id FROM files WHERE version_id = %s", (vid,))[0][0]
        folder = os.path.join(self.files_dir, app.short, "downloads", "file", str(file_id))
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, basename), "wb") as out:
            out.write(xpi)
        return vid
