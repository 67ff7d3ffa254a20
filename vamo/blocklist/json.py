"""The JSON export `/blocked/blocklists.json` (docs/blocklist.md): the whole
blocklist, for every application, in the records amo2kinto imported.

As AMO: one add-on record per blitems row (not grouped by GUID), keys whose
value is None left out, `ca` null when there is none. Unlike AMO: one plugin
record per plugin (AMO repeated the same record once per blapps row),
`last_update` is when the data last changed rather than the time of the
request, and `created` is converted to UTC before it is written with a `Z`.
"""

import base64
import datetime
import json

from vamo.blocklist.data import epoch_ms
from vamo.blocklist.xml import block_id


def _utc(value):
    if value is None:
        return None
    moment = datetime.datetime.fromtimestamp(epoch_ms(value) // 1000, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _without_none(value):
    """`value` with None-valued keys removed at every depth, and dicts left empty dropped from lists."""
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        cleaned = [_without_none(item) for item in value]
        return [item for item in cleaned if item != {}]
    return value


def _details(generation, details_id):
    details = generation.details.get(details_id)
    if details is None:
        return None
    return {"name": details.name, "who": details.who, "why": details.why, "bug": details.bug,
            "created": _utc(details.created)}


def _target_applications(apps):
    return [{"guid": app.guid, "minVersion": app.min, "maxVersion": app.max} for app in apps]


def _addon(generation, item):
    apps = [app for app in generation.apps_by_item.get(item.id, ()) if app.guid]
    ranges = []
    if item.min or item.max or item.severity or apps:
        ranges.append({"minVersion": item.min, "maxVersion": item.max, "severity": item.severity,
                       "targetApplication": _target_applications(apps)})
    return {
        "guid": item.guid,
        "blockID": block_id("i", item.details_id),
        "name": item.name,
        "os": item.os,
        "versionRange": ranges,
        "prefs": [pref.strip() for pref in generation.prefs_by_item.get(item.id, ())],
        "details": _details(generation, item.details_id),
    }


def _plugin(generation, plugin):
    return {
        "blockID": block_id("p", plugin.details_id),
        "name": plugin.name,
        "os": plugin.os,
        "xpcomabi": plugin.xpcomabi,
        "infoURL": plugin.info_url,
        "matchName": plugin.name,
        "matchDescription": plugin.description,
        "matchFilename": plugin.filename,
        "versionRange": [{
            "minVersion": plugin.min, "maxVersion": plugin.max, "severity": plugin.severity,
            "vulnerabilityStatus": plugin.vulnerability,
            "targetApplication": _target_applications(generation.apps_by_plugin.get(plugin.id, ())),
        }],
        "details": _details(generation, plugin.details_id),
    }


def _gfx(generation, entry):
    version_range = None
    if entry.application_min or entry.application_max:
        version_range = {"minVersion": entry.application_min, "maxVersion": entry.application_max}
    return {
        "blockID": block_id("g", entry.details_id),
        "os": entry.os,
        "vendor": entry.vendor,
        "devices": entry.devices.split() if entry.devices else [],
        "feature": entry.feature,
        "featureStatus": entry.feature_status,
        "driverVersion": entry.driver_version,
        "driverVersionMax": entry.driver_version_max,
        "driverVersionComparator": entry.driver_version_comparator,
        "hardware": entry.hardware,
        "versionRange": version_range,
        "details": _details(generation, entry.details_id),
    }


def _certificate(generation, cert):
    record = {"blockID": block_id("c", cert.details_id)}
    pubkey_hash = cert.pubkey_hash
    if pubkey_hash is None:
        record.update(issuerName=cert.issuer, serialNumber=cert.serial)
    else:
        record.update(subject=cert.issuer, pubKeyHash=pubkey_hash)
    record["details"] = _details(generation, cert.details_id)
    return record


def render(generation):
    """(the export as UTF-8 JSON bytes, its last_update in ms)."""
    tables = generation.tables
    document = _without_none({
        "last_update": generation.changed_ms,
        "certificates": [_certificate(generation, cert) for cert in tables.certs],
        "addons": [_addon(generation, item) for item in tables.items],
        "plugins": [_plugin(generation, plugin) for plugin in tables.plugins],
        "gfx": [_gfx(generation, entry) for entry in tables.gfx],
    })
    document["ca"] = (base64.b64encode(tables.cas[0].data.encode("utf-8")).decode("ascii")
                      if tables.cas else None)
    body = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return body, generation.changed_ms
