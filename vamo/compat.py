"""Compatibility rules of the update check, compiled to plain integers.

- `version_int`: an application version string as one comparable integer,
  exactly as AMO's current generation computes it (docs/update-check.md, version_int).
- The application and platform tables, and the `appOS` rule (D6).
- Compat overrides compiled into exclusion intervals (D8).
- `qualifies`: the one predicate deciding whether a candidate file may be
  offered for (appVersion, platform, compatMode) (D7).
"""

import re
from typing import NamedTuple

BIGINT_POSITIVE_MAX = 2**63 - 1
MAJOR_PART_MAX = 2**16 - 1
MINOR_PART_MAX = 99

# Matched at the start only: trailing text is ignored ("3.6.28esr" is 3.6.28).
# Like AMO's, `\d` is not ASCII-only and the alpha class is `[a|b]`.
_VERSION_RE = re.compile(
    r"""(?P<major>\d+|\*)
        \.?(?P<minor1>\d+|\*)?
        \.?(?P<minor2>\d+|\*)?
        \.?(?P<minor3>\d+|\*)?
        (?P<alpha>[a|b]?)
        (?P<alpha_ver>\d*)
        (?P<pre>pre)?
        (?P<pre_ver>\d)?""",
    re.VERBOSE,
)
_NUMERIC_PARTS = ("major", "minor1", "minor2", "minor3", "alpha_ver", "pre_ver")


def version_int(version):
    """Turn an application version string into an integer for comparisons.

    Digits: major | minor1..3 (2 each) | alpha code (a 0, b 1, else 2) |
    alpha_ver (2) | pre code (pre 0, else 1) | pre_ver (2). `*` is the largest
    value of its part, and missing numeric parts after a `*` inherit it (the
    inheritance stops at alpha_ver and pre_ver). Major is capped at 65535, the
    other parts at 99, the whole at 2**63 - 1.
    """
    match = _VERSION_RE.match(version or "")
    groups = match.groupdict() if match else {}
    values = {}
    last = None
    for part in _NUMERIC_PARTS:
        if part in ("alpha_ver", "pre_ver"):
            last = None
        raw = groups.get(part)
        if not raw:
            value = "*" if last == "*" else 0
        elif raw == "*":
            value = last = raw
        else:
            try:
                value = int(raw)
            except ValueError:  # more digits than int() takes: far above any cap
                value = BIGINT_POSITIVE_MAX
            last = value
        cap = MAJOR_PART_MAX if part == "major" else MINOR_PART_MAX
        values[part] = cap if value == "*" else min(value, cap)
    alpha = {"a": 0, "b": 1}.get(groups.get("alpha") or "", 2)
    pre = 0 if groups.get("pre") else 1
    digits = "%d%02d%02d%02d%d%02d%d%02d" % (
        values["major"], values["minor1"], values["minor2"], values["minor3"],
        alpha, values["alpha_ver"], pre, values["pre_ver"],
    )
    return min(int(digits), BIGINT_POSITIVE_MAX)


class Application(NamedTuple):
    id: int
    guid: str
    short: str
    pretty: str
    # The lowest maxVersion a version must declare for compatMode=normal to
    # treat it as compatible by default (None: no minimum).
    d2c_min_version: str | None


APPLICATIONS = (
    Application(1, "{ec8030f7-c20a-464f-9b0e-13a3a9e97384}", "firefox", "Firefox", "4.0"),
    Application(18, "{3550f703-e582-4d05-9a08-453d09bdfdc6}", "thunderbird", "Thunderbird", "5.0"),
    Application(59, "{92650c4d-4b8e-4d2a-b7eb-24ecf4f6b63a}", "seamonkey", "SeaMonkey", "2.1"),
    Application(60, "{a23983c0-fd0e-11dc-95ff-0800200c9a66}", "mobile", "Mobile", None),
    Application(61, "{aa3c5121-dab2-40e2-81ca-7ea25febc110}", "android", "Firefox for Android", "11.0"),
)
APPS_BY_ID = {app.id: app for app in APPLICATIONS}
APPS_BY_GUID = {app.guid: app for app in APPLICATIONS}
APPS_BY_SHORT = {app.short: app for app in APPLICATIONS}
D2C_MIN_INT = {
    app.id: version_int(app.d2c_min_version) if app.d2c_min_version else 0
    for app in APPLICATIONS
}


# D4: the answer's format by what the client parses. Firefox and Android read
# only JSON; Thunderbird 68 and later too, and its JSON ranges work above 60
# (addons.thunderbird.net's rule), so Thunderbird gets JSON above 60 and RDF
# up to 60.*, judged by the running client's version; SeaMonkey (which binds
# JSON ranges to the toolkit version) and the old Mobile get RDF.
JSON, RDF, BY_CLIENT_VERSION = "json", "rdf", "by client version"
_FORMATS = {1: JSON, 18: BY_CLIENT_VERSION, 59: RDF, 60: RDF, 61: JSON}
THUNDERBIRD_LAST_RDF_INT = version_int("60.*")


def answer_formats(forced_rdf_apps=()):
    """{app id: JSON, RDF or BY_CLIENT_VERSION}, with `forced_rdf_apps` always RDF."""
    return {app_id: RDF if app_id in forced_rdf_apps else answer_format
            for app_id, answer_format in _FORMATS.items()}


def find_application(name):
    """An application by short name, numeric id or GUID, or None."""
    name = name.strip()
    if name.isdigit():
        return APPS_BY_ID.get(int(name))
    return APPS_BY_SHORT.get(name.lower()) or APPS_BY_GUID.get(name)


# Platform ids of `files.platform_id`.
PLATFORM_ALL = 1
PLATFORMS = {1: "ALL", 2: "Linux", 3: "Darwin", 4: "BSD_OS", 5: "WINNT", 6: "SunOS", 7: "Android"}
# D6: the first of these names found inside `appOS` (a substring match, as
# the legacy service did) names the client's platform.
_APPOS_ORDER = (("Android", 7), ("WINNT", 5), ("Darwin", 3), ("Linux", 2), ("BSD_OS", 4), ("SunOS", 6))


def platform_from_appos(app_os):
    """The platform id `appOS` names, or 0 when it names none (or is absent)."""
    if app_os:
        for name, platform_id in _APPOS_ORDER:
            if name in app_os:
                return platform_id
    return 0


# compatMode values (D2: anything unknown, or absent, means strict).
STRICT, NORMAL, IGNORE = 0, 1, 2
COMPAT_MODES = {"strict": STRICT, "normal": NORMAL, "ignore": IGNORE}


class Protocol(NamedTuple):
    """How the update check judges a request on one schema generation (D2, D4, D6, D7, D20)."""
    generation: str
    apps: dict            # appID -> Application, the applications answered (others: 400)
    unknown_mode: int     # the mode of a compatMode value not in COMPAT_MODES (absent: strict)
    platforms: bool       # appOS picks platform files
    d2c_min_int: dict     # app id -> default-to-compatible minimum of normal mode (0: none)
    site_links: bool      # update_link on the site by file id, without ?filehash= (D11)


PROTOCOLS = {
    # AMO 2015-2021 and addons.thunderbird.net: every application, platforms,
    # default-to-compatible minimums; unknown compatMode is strict.
    "classic": Protocol("classic", APPS_BY_GUID, STRICT, True, D2C_MIN_INT, False),
    # Today's AMO view: Firefox and Android only, no platforms, no minimum;
    # an unknown compatMode is ignore (absent is still strict).
    "current": Protocol("current", {app.guid: app for app in APPLICATIONS if app.id in (1, 61)},
                        IGNORE, False, {app.id: 0 for app in APPLICATIONS}, True),
}


# Bounds of an open-ended override interval.
NO_LOWER_BOUND = -1
NO_UPPER_BOUND = 2**63


def compile_overrides(ranges, versions):
    """Compile one add-on's compat override ranges into exclusion intervals.

    `ranges`: (type, min_version, max_version, app_id, min_app_version,
    max_app_version) rows of `compat_override_range` for the add-on.
    `versions`: (id, version string) of the add-on's versions that are not
    deleted. Only type 1 ("incompatible") excludes. The add-on version bounds
    resolve as AMO did: `0` is the lowest version id, `*` the highest, any
    other string the version with exactly that string (lowest id for the lower
    bound, highest for the upper); a string that names no version makes the
    range void. The application bounds are `0` (none), `*` (none) or a
    version_int.

    Returns {app_id: ((min_version_id, max_version_id, low, high), ...)}.
    """
    if not versions:
        return {}
    ids = sorted(vid for vid, _ in versions)
    ids_by_string = {}
    for vid, string in versions:
        ids_by_string.setdefault(string, []).append(vid)
    compiled = {}
    for kind, min_version, max_version, app_id, min_app, max_app in ranges:
        if kind != 1:
            continue
        if min_version == "0":
            min_id = ids[0]
        elif min_version in ids_by_string:
            min_id = min(ids_by_string[min_version])
        else:
            continue
        if max_version == "*":
            max_id = ids[-1]
        elif max_version in ids_by_string:
            max_id = max(ids_by_string[max_version])
        else:
            continue
        if min_id > max_id:
            continue
        low = NO_LOWER_BOUND if min_app == "0" else version_int(min_app)
        high = NO_UPPER_BOUND if max_app == "*" else version_int(max_app)
        compiled.setdefault(app_id, []).append((min_id, max_id, low, high))
    return {app_id: tuple(sorted(intervals)) for app_id, intervals in compiled.items()}


def excluded_by_override(intervals, version_id, app_version_int):
    for min_id, max_id, low, high in intervals:
        if min_id <= version_id <= max_id and low <= app_version_int <= high:
            return True
    return False


def qualifies(app_version_int, platform_id, mode, *, min_int, max_int, file_platform,
              strict_file, d2c_min_int, version_id, overrides):
    """Whether one candidate (version, file, app range) may be offered (D6, D7).

    `strict_file`: the file declares strict compatibility or binary
    components, so `normal` mode still checks its maxVersion.
    """
    if min_int > app_version_int:
        return False
    if file_platform != PLATFORM_ALL and file_platform != platform_id:
        return False
    if mode == STRICT:
        return max_int >= app_version_int
    if mode == IGNORE:
        return True
    if strict_file and max_int < app_version_int:
        return False
    if max_int < d2c_min_int:
        return False
    return not (overrides and excluded_by_override(overrides, version_id, app_version_int))
