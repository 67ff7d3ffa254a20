"""The blocklist XML document (docs/blocklist.md, "The XML document"), for one generation,
application and API version.

Sections in the fixed order emItems, pluginItems, gfxItems, certItems,
caBlocklistEntry, each left out when empty; optional attributes left out
when NULL; every value escaped. Where this differs from AMO's template on
purpose (docs/blocklist.md, "Fixed on purpose"), the comment says so.
"""

import base64
import re

NAMESPACE = "http://www.mozilla.org/2006/addons-blocklist"

# Characters XML 1.0 cannot carry at all: one in the database would make
# clients reject the whole document, so it becomes U+FFFD instead.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# In attributes, quotes end the value and parsers fold whitespace characters
# into spaces unless they are written as references.
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                               "'": "&apos;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"})


def _clean(value):
    return _NOT_XML.sub("\ufffd", str(value))


def text(value):
    return _clean(value).translate(_TEXT_ESCAPES)


def attrs(*pairs):
    """` name="value"` for each pair whose value is not None, in order."""
    return "".join(f' {name}="{_clean(value).translate(_ATTR_ESCAPES)}"'
                   for name, value in pairs if value is not None)


def tag(depth, name, *pairs, empty=False):
    """One start (or empty) tag on its own line, `depth` levels in."""
    return f"{'  ' * depth}<{name}{attrs(*pairs)}{'/' if empty else ''}>\n"


def block_id(prefix, details_id):
    return None if details_id is None else f"{prefix}{details_id}"


def render(generation, app_key, api_version, appver_int=None):
    """(the document as UTF-8 bytes, its lastupdate in ms). `api_version` is 1, 2
    or 3; `appver_int` (version_int of the client's version) only matters below 3."""
    groups = generation.item_groups(app_key)
    if api_version < 3:
        plugins = generation.legacy_plugin_rows(app_key, appver_int)
    else:
        plugins = generation.plugin_rows(app_key)
    gfx = generation.gfx_rows(app_key)
    certs = generation.tables.certs
    cas = generation.tables.cas
    lastupdate = generation.lastupdate(groups, plugins, gfx)

    out = ['<?xml version="1.0"?>\n',
           tag(0, "blocklist", ("xmlns", NAMESPACE), ("lastupdate", lastupdate))]
    if groups:
        out.append("  <emItems>\n")
        for group in groups:
            _em_item(out, group)
        out.append("  </emItems>\n")
    if plugins:
        out.append("  <pluginItems>\n")
        for row in plugins:
            _plugin_item(out, row, api_version)
        out.append("  </pluginItems>\n")
    if gfx:
        out.append("  <gfxItems>\n")
        for entry in gfx:
            _gfx_entry(out, entry)
        out.append("  </gfxItems>\n")
    if certs:
        out.append("  <certItems>\n")
        for cert in certs:
            _cert_item(out, cert)
        out.append("  </certItems>\n")
    if cas:
        # Only the first row counts, as in AMO.
        encoded = base64.b64encode(cas[0].data.encode("utf-8")).decode("ascii")
        out.append(f"  <caBlocklistEntry>{encoded}</caBlocklistEntry>\n")
    out.append("</blocklist>\n")
    return "".join(out).encode("utf-8"), lastupdate


def _em_item(out, group):
    first = group.rows[0][0]  # name, creator and URLs come from the lowest blitem id
    out.append(tag(2, "emItem", ("id", group.guid), ("os", group.os),
                   ("blockID", block_id("i", group.block_id)), ("name", first.name),
                   ("creator", first.creator), ("homepageURL", first.homepage_url),
                   ("updateURL", first.update_url)))
    for item, apps in group.rows:
        if not (item.min or item.max or item.severity or apps):
            continue
        severity = item.severity or None  # 0 meant "unset" on items (bug 663722)
        out.append(tag(3, "versionRange", ("minVersion", item.min), ("maxVersion", item.max),
                       ("severity", severity), empty=not apps))
        if apps:
            for app in apps:
                _target_application(out, 4, app.guid, app)
            out.append("      </versionRange>\n")
    if group.prefs:
        out.append("      <prefs>\n")
        for pref in group.prefs:
            out.append(f"        <pref>{text(pref)}</pref>\n")
        out.append("      </prefs>\n")
    else:
        out.append("      <prefs/>\n")
    out.append("    </emItem>\n")


def _plugin_item(out, row, api_version):
    plugin, app = row
    out.append(tag(2, "pluginItem", ("os", plugin.os), ("xpcomabi", plugin.xpcomabi),
                   ("blockID", block_id("p", plugin.details_id))))
    for name, expression in (("name", plugin.name), ("description", plugin.description),
                             ("filename", plugin.filename)):
        if expression is not None:
            out.append(tag(3, "match", ("name", name), ("exp", expression), empty=True))
    app_guid = app.guid if app is not None else None
    vulnerability = plugin.vulnerability
    range_attrs = (("severity", plugin.severity), ("minVersion", plugin.min),
                   ("maxVersion", plugin.max), ("vulnerabilitystatus", vulnerability))
    # AMO wrote the plugin's own range only when both bounds were set, and
    # without an application row only for API 3: a half-open range, or any
    # range for API 1-2, came out as no range at all, which blocks every
    # version of the plugin. Each bound that is set is written here.
    if app_guid and api_version > 2:
        out.append(tag(3, "versionRange", *range_attrs))
        _target_application(out, 4, app_guid, app)
        out.append("      </versionRange>\n")
    elif app_guid or plugin.min or plugin.max or plugin.severity is not None:
        # Plugin severity 0 ("outdated") is written, unlike on items.
        out.append(tag(3, "versionRange", *range_attrs, empty=True))
    if plugin.info_url:
        out.append(f"      <infoURL>{text(plugin.info_url)}</infoURL>\n")
    out.append("    </pluginItem>\n")


_GFX_FIELDS = (("os", "os"), ("vendor", "vendor"), ("devices", None), ("feature", "feature"),
               ("featureStatus", "feature_status"), ("driverVersion", "driver_version"),
               ("driverVersionMax", "driver_version_max"),
               ("driverVersionComparator", "driver_version_comparator"), ("hardware", "hardware"))


def _gfx_entry(out, entry):
    out.append(tag(2, "gfxBlacklistEntry", ("blockID", block_id("g", entry.details_id))))
    for element, field in _GFX_FIELDS:
        if element == "devices":
            devices = entry.devices.split() if entry.devices else []
            if devices:
                out.append("      <devices>\n")
                for device in devices:
                    out.append(f"        <device>{text(device)}</device>\n")
                out.append("      </devices>\n")
            continue
        value = getattr(entry, field)
        if value:
            out.append(f"      <{element}>{text(value)}</{element}>\n")
    if entry.application_min or entry.application_max:
        out.append(tag(3, "versionRange", ("minVersion", entry.application_min),
                       ("maxVersion", entry.application_max), empty=True))
    out.append("    </gfxBlacklistEntry>\n")


def _cert_item(out, cert):
    pubkey_hash = cert.pubkey_hash
    if pubkey_hash is not None:
        out.append(tag(2, "certItem", ("subject", cert.issuer), ("pubKeyHash", pubkey_hash),
                       empty=True))
    else:
        out.append(tag(2, "certItem", ("issuerName", cert.issuer)))
        out.append(f"      <serialNumber>{text(cert.serial)}</serialNumber>\n    </certItem>\n")


def _target_application(out, depth, guid, app):
    """<targetApplication>, with the application's range only when both bounds are set."""
    if not (app.min and app.max):
        out.append(tag(depth, "targetApplication", ("id", guid), empty=True))
        return
    out.append(tag(depth, "targetApplication", ("id", guid)))
    out.append(tag(depth + 1, "versionRange", ("minVersion", app.min), ("maxVersion", app.max),
                   empty=True))
    out.append(f"{'  ' * depth}</targetApplication>\n")
