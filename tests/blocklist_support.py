"""Helpers of the blocklist tests: rows written into a real database, the app in-process."""

import datetime
import time
import xml.etree.ElementTree as ET

from werkzeug.test import Client

from tests.support import make_config
from vamo.app import create_app

FIREFOX = "{ec8030f7-c20a-464f-9b0e-13a3a9e97384}"
THUNDERBIRD = "{3550f703-e582-4d05-9a08-453d09bdfdc6}"
NS = "{http://www.mozilla.org/2006/addons-blocklist}"
DAY = datetime.datetime(2024, 3, 1, 10, 0, 0)


def at(minutes):
    """A timestamp `minutes` after a fixed day."""
    return DAY + datetime.timedelta(minutes=minutes)


def ms(moment):
    """lastupdate of a naive timestamp, as vamo computes it (local time zone, whole seconds)."""
    return int(time.mktime(moment.timetuple())) * 1000


class Rows:
    """Writes blocklist rows with sensible defaults; returns their ids."""

    def __init__(self, db):
        self.db = db

    def insert(self, table, **row):
        row.setdefault("created", DAY)
        row.setdefault("modified", row["created"])
        columns = list(row)
        self.db.execute(
            "INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(columns), ", ".join(["%s"] * len(columns))),
            tuple(row.values()))
        return self.db.query(f"SELECT MAX(id) FROM {table}")[0][0]

    def details(self, name="Blocked thing", why="Bad.", who="Everyone.", bug="", **row):
        return self.insert("bldetails", name=name, why=why, who=who, bug=bug, **row)

    def item(self, guid, details=True, **row):
        if details is True:
            details = self.details(name=f"Block of {guid}", created=row.get("created", DAY))
        return self.insert("blitems", guid=guid, details_id=details or None, **row)

    def plugin(self, details=True, **row):
        if details is True:
            details = self.details(name=f"Plugin {row.get('name')}", created=row.get("created", DAY))
        return self.insert("blplugins", details_id=details or None, **row)

    def app(self, guid, blitem_id=None, blplugin_id=None, min=None, max=None, **row):
        return self.insert("blapps", guid=guid, blitem_id=blitem_id, blplugin_id=blplugin_id,
                           min=min, max=max, **row)

    def pref(self, blitem_id, pref, **row):
        return self.insert("blitemprefs", blitem_id=blitem_id, pref=pref, **row)

    def gfx(self, details=True, **row):
        if details is True:
            details = self.details(name="Graphics driver")
        return self.insert("blgfxdrivers", details_id=details or None, **row)

    def cert(self, issuer, serial, **row):
        return self.insert("blissuercert", issuer=issuer, serial=serial,
                           details_id=self.details(name="Revoked certificate"), **row)


class App:
    """The whole service in-process on a database; `pass_()` runs one refresher pass."""

    def __init__(self, database_url, **settings):
        self.service = create_app(make_config(database_url=database_url, **settings),
                                  setup_logging=False)
        self.client = Client(self.service)

    def pass_(self):
        assert self.service.refresher.run_once(), self.service.refresher.last_error
        return self

    @property
    def data(self):
        (data,) = [s for s in self.service.refresher.sources if s.name == "blocklist"]
        return data

    def get(self, path, **kwargs):
        return self.client.get(path, **kwargs)

    def xml(self, apiver=3, app=FIREFOX, appver="120.0"):
        response = self.get(f"/blocklist/{apiver}/{app}/{appver}/")
        assert response.status_code == 200, response.status
        return ET.fromstring(response.data)


def children(element, name):
    return element.findall(f"{NS}{name}")


def only(element, name):
    (found,) = children(element, name)
    return found


def section_names(root):
    return [child.tag.replace(NS, "") for child in root]
