"""A realistic request mix for the update check, derived from the generated data.

Each request is the URL Firefox (or Thunderbird, SeaMonkey, Firefox for
Android) builds from `extensions.update.url` (docs/update-check.md, "The request"): the same
parameters in the same order, each value escaped with encodeURIComponent as
the add-on manager's escapeAddonURI does. Who asks what:

- the client application first, by a fixed share (RDF clients included);
- then the add-on, Zipf-distributed over the add-ons that support that
  application (one popularity order for all applications), so a few add-ons
  get most of the checks, as on AMO;
- a share of checks for add-ons AMO does not know (self-hosted or removed);
- the installed add-on version (mostly the newest listed), a spread of
  application versions (recent releases most, ESRs, stragglers), operating
  systems, ABIs, locales, compatibility modes and update reasons.

Every request is well formed: any answer other than 200 (or 304) is an error.
The same (rows, count, seed) gives the same mix.
"""

import bisect
import collections
import itertools
import random
from urllib.parse import quote

from vamo import compat

PATH = "/update/VersionCheck.php"
HOST = "versioncheck-bg.addons.mozilla.org"  # background checks use this host

# Share of update checks by client application (ids as compat.APPLICATIONS).
CLIENT_APPS = ((1, 0.82), (61, 0.08), (18, 0.07), (59, 0.02), (60, 0.01))
UNKNOWN_SHARE = 0.05
ZIPF_EXPONENT = 1.0
NEWEST_VERSION_SHARE = 0.85   # clients that already run the add-on's newest listed version

# Client application versions: (version string, weight).
_FIREFOX = ([("140.0", 20), ("140.0.2", 14), ("139.0.4", 10), ("138.0.1", 6), ("137.0", 4),
             ("128.11.0", 10), ("128.5.1", 3), ("115.24.0", 5), ("115.12.0", 2)]
            + [(f"{major}.0", 1) for major in range(60, 137, 4)])
_ANDROID = [("140.0", 30), ("139.0", 15), ("138.0.1", 8), ("128.0", 5), ("68.11.0", 2)]
_APP_VERSIONS = {
    1: _FIREFOX,
    61: _ANDROID,
    18: [("128.11.0", 35), ("128.5.2", 10), ("115.16.0", 20), ("140.0", 8), ("102.15.1", 5),
         ("91.13.1", 2)],
    59: [("2.53.21", 40), ("2.53.19", 20), ("2.53.17.1", 10), ("2.49.5", 5)],
    60: [("68.12.0", 10), ("40.0", 2), ("11.0", 1)],
}
_OS = {
    "desktop": [("WINNT", 72), ("Darwin", 16), ("Linux", 11), ("BSD_OS", 1)],
    "android": [("Android", 1)],
}
_ABI = {"WINNT": [("x86_64-msvc", 85), ("x86-msvc", 10), ("aarch64-msvc", 5)],
        "Darwin": [("aarch64-gcc3", 60), ("x86_64-gcc3", 40)],
        "Linux": [("x86_64-gcc3", 95), ("x86-gcc3", 5)],
        "BSD_OS": [("x86_64-gcc3", 1)],
        "Android": [("arm64-v8a-gcc3", 80), ("armeabi-v7a-gcc3", 20)]}
_LOCALES = [("en-US", 40), ("de", 12), ("fr", 8), ("es-ES", 6), ("ru", 5), ("pt-BR", 5), ("ja", 4),
            ("pl", 4), ("it", 4), ("zh-CN", 4), ("en-GB", 4), ("nl", 2), ("cs", 2)]
_COMPAT_MODES = [("normal", 90), ("strict", 5), ("ignore", 5)]
_STATUSES = [("userEnabled", 90), ("userDisabled", 8), ("userEnabled,incompatible", 2)]
# updateType: periodic check (16) | compatibility (32) | new version (64), and rarer reasons.
_UPDATE_TYPES = [("112", 90), ("97", 6), ("49", 2), ("99", 2)]


def escape(value):
    """encodeURIComponent, as Firefox's escapeAddonURI applies it to each value."""
    return quote(value, safe="-_.!~*'()")


def firefox_query(params):
    """The query string of the `extensions.update.url` template, in its order."""
    order = ("reqVersion", "id", "version", "maxAppVersion", "status", "appID", "appVersion",
             "appOS", "appABI", "locale", "currentAppVersion", "updateType", "compatMode")
    return "&".join(f"{name}={escape(params[name])}" for name in order)


class _Weighted:
    """Fast repeated draws from (value, weight) pairs."""

    def __init__(self, pairs):
        self.values = [value for value, _ in pairs]
        self.cumulative = list(itertools.accumulate(weight for _, weight in pairs))

    def draw(self, rng):
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


def _zipf(items):
    return _Weighted([(item, 1.0 / rank ** ZIPF_EXPONENT) for rank, item in enumerate(items, 1)])


class _Catalogue:
    """What the clients have installed, from the generated rows."""

    def __init__(self, rows, rng):
        appversion = {row["id"]: row["version"] for row in rows["appversions"]}
        guid_of = {a["id"]: a["guid"] for a in rows["addons"] if a["guid"]}
        version_of = {v["id"]: v for v in rows["versions"]}
        # (add-on, app) -> [(version id, version string, max appversion string)]
        self.installed = collections.defaultdict(list)
        for av in rows["applications_versions"]:
            version = version_of[av["version_id"]]
            if version["addon_id"] in guid_of and version["channel"] == 2 and not version["deleted"]:
                self.installed[version["addon_id"], av["application_id"]].append(
                    (version["id"], version["version"], appversion[av["max"]]))
        for versions in self.installed.values():
            versions.sort(reverse=True)
        popularity = sorted(guid_of)
        rng.shuffle(popularity)  # one popularity order for every application
        self.guid_of = guid_of
        self.by_app = {}
        for app_id, _ in CLIENT_APPS:
            addons = [a for a in popularity if (a, app_id) in self.installed]
            self.by_app[app_id] = _zipf(addons) if addons else None
        self.unknown = _zipf([self._unknown_guid(rng, n) for n in range(max(100, len(guid_of) // 10))])

    @staticmethod
    def _unknown_guid(rng, n):
        if n % 2:
            return "{%08x-%04x-4%03x-a%03x-%012x}" % (rng.getrandbits(32), rng.getrandbits(16),
                                                      rng.getrandbits(12), rng.getrandbits(12),
                                                      rng.getrandbits(48))
        return f"self-hosted-{n}@example.org"


def build_mix(rows, count, seed=1, generation="classic"):
    """`count` request paths (`/update/VersionCheck.php?...`), and a summary of the mix.

    On the current generation only Firefox and Android ask (Thunderbird and
    SeaMonkey ask addons.thunderbird.net, which runs the classic one)."""
    rng = random.Random(seed)
    catalogue = _Catalogue(rows, rng)
    answered = {app.id for app in compat.PROTOCOLS[generation].apps.values()}
    apps = _Weighted([(app_id, share) for app_id, share in CLIENT_APPS if app_id in answered])
    app_versions = {app_id: _Weighted(pairs) for app_id, pairs in _APP_VERSIONS.items()}
    oses = {kind: _Weighted(pairs) for kind, pairs in _OS.items()}
    abis = {name: _Weighted(pairs) for name, pairs in _ABI.items()}
    locales, modes = _Weighted(_LOCALES), _Weighted(_COMPAT_MODES)
    statuses, update_types = _Weighted(_STATUSES), _Weighted(_UPDATE_TYPES)

    paths, per_app, unknown = [], collections.Counter(), 0
    known_addons = set()
    for _ in range(count):
        app_id = apps.draw(rng)
        app = compat.APPS_BY_ID[app_id]
        addons = catalogue.by_app[app_id]
        if addons is None or rng.random() < UNKNOWN_SHARE:
            guid, version, max_version = catalogue.unknown.draw(rng), "1.0", "*"
            unknown += 1
        else:
            addon_id = addons.draw(rng)
            known_addons.add(addon_id)
            installed = catalogue.installed[addon_id, app_id]
            pick = installed[0] if rng.random() < NEWEST_VERSION_SHARE else rng.choice(installed)
            guid, version, max_version = catalogue.guid_of[addon_id], pick[1], pick[2]
        app_version = app_versions[app_id].draw(rng)
        app_os = oses["android" if app_id in (60, 61) else "desktop"].draw(rng)
        paths.append(PATH + "?" + firefox_query({
            "reqVersion": "2", "id": guid, "version": version, "maxAppVersion": max_version,
            "status": statuses.draw(rng), "appID": app.guid, "appVersion": app_version,
            "appOS": app_os, "appABI": abis[app_os].draw(rng), "locale": locales.draw(rng),
            "currentAppVersion": app_version, "updateType": update_types.draw(rng),
            "compatMode": modes.draw(rng)}))
        per_app[app.short] += 1
    summary = {
        "requests": count, "seed": seed, "distinct_requests": len(set(paths)),
        "known_addons_asked": len(known_addons), "unknown_share": round(unknown / count, 4),
        "app_share": {name: round(n / count, 4) for name, n in per_app.most_common()},
        "zipf_exponent": ZIPF_EXPONENT, "mean_path_bytes": round(sum(map(len, paths)) / count, 1),
    }
    return paths, summary


def write_paths(paths, filename):
    with open(filename, "w", encoding="ascii") as out:
        out.write("\n".join(paths) + "\n")
