"""A deterministic generator of AMO-shaped data.

`generate(db, addons=N, seed=S)` writes the same rows for the same arguments:
add-ons of several types and statuses, version histories of heavy-tailed
length, files per platform, strict and binary-component files, app ranges
for every application, compat overrides, lightweight themes with their
translations and migrations, and blocklist entries of every kind. The tests,
the embedded demo database and the benchmark all use it.

The `edge` shape turns up the odd cases (duplicate and hostile version
strings, mixed platform files, overrides of every kind) for the
differential tests.
"""

import base64
import datetime
import random
import string
from dataclasses import dataclass

from vamo import compat
from vamo.dev.schema import has_schema, install_schema


@dataclass(frozen=True)
class Shape:
    """Probabilities that shape the generated data."""
    mean_versions: float = 1.25        # Pareto alpha of the version count (smaller: longer tails)
    max_versions: int = 400
    no_versions: float = 0.02
    unlisted: float = 0.08
    deleted_version: float = 0.03
    file_not_approved: float = 0.12
    platform_files: float = 0.08      # a version with platform-specific files only
    mixed_platform_files: float = 0.05  # an all-platform file beside platform files
    strict_file: float = 0.10
    binary_file: float = 0.05
    no_hash: float = 0.08
    release_notes: float = 0.5
    backport: float = 0.04            # a version id whose string is lower than its predecessor's
    duplicate_version_string: float = 0.0
    hostile_strings: float = 0.0      # <, &, quotes and non-ASCII in versions and file names
    override: float = 0.02
    upper_case_guid: float = 0.05
    star_max: float = 0.03            # app range up to `*`
    type_weights: tuple = None        # ((add-on type, weight), ...); None: _TYPE_WEIGHTS
    app_share: tuple = None           # ((app id, share of add-ons with a range), ...); None: _APP_SHARE
    theme_versions: int = 0           # static themes get 1 to this many versions, Firefox only (0: as any add-on)


SHAPES = {
    "realistic": Shape(),
    "edge": Shape(
        mean_versions=1.05, no_versions=0.05, unlisted=0.15, deleted_version=0.1,
        file_not_approved=0.25, platform_files=0.25, mixed_platform_files=0.25,
        strict_file=0.3, binary_file=0.2, no_hash=0.2, backport=0.2,
        duplicate_version_string=0.08, hostile_strings=0.05, override=0.3,
        upper_case_guid=0.2, star_max=0.1,
    ),
    # AMO in January 2024: about 36,000 extensions (and a few dictionaries and
    # language packs) beside 495,000 static themes of one to three versions.
    # WebExtensions: nearly every file for all platforms, no binary components;
    # ranges for Firefox and often Firefox for Android (the few Thunderbird and
    # SeaMonkey ranges keep the bench's mix of clients answerable).
    "today": Shape(
        platform_files=0.01, mixed_platform_files=0.005, strict_file=0.03, binary_file=0.0,
        mean_versions=1.0, no_hash=0.01, unlisted=0.1, override=0.01,
        type_weights=((1, 62), (3, 4), (5, 4), (10, 930)),
        app_share=((1, 0.97), (61, 0.4), (18, 0.02), (59, 0.01)),
        theme_versions=3,
    ),
}

# Add-on types (constants/base.py): extension, complete theme, dictionary,
# search engine, language pack, lightweight theme, static theme.
EXTENSION, THEME, DICT, SEARCH, LPAPP, PERSONA, STATICTHEME = 1, 2, 3, 4, 5, 9, 10
_TYPE_WEIGHTS = ((EXTENSION, 70), (THEME, 3), (DICT, 5), (SEARCH, 3), (LPAPP, 3),
                 (PERSONA, 8), (STATICTHEME, 8))
# Add-on statuses: mostly approved (4); nominated, incomplete, awaiting,
# disabled by Mozilla (5) and deleted (11) too.
_STATUS_WEIGHTS = ((4, 82), (3, 3), (0, 2), (1, 2), (5, 5), (11, 6))
_APP_SHARE = {1: 0.9, 61: 0.3, 18: 0.15, 59: 0.08, 60: 0.03}
LOCALES = ("en-US", "de", "fr", "es-ES", "ja", "pt-BR")
BASE_TIME = datetime.datetime(2025, 6, 1, 12, 0, 0)

# Application versions offered in the developer hub, per application.
_APP_VERSIONS = {
    1: (["1.0", "1.5", "2.0", "3.0a1", "3.0", "3.5", "3.6", "3.6.*", "4.0b1", "4.0", "4.0.*"]
        + [v for n in range(5, 141) for v in (f"{n}.0a1", f"{n}.0", f"{n}.*")] + ["*"]),
    18: (["1.5", "2.0", "3.0", "3.1", "5.0", "5.*"]
         + [v for n in range(6, 129) for v in (f"{n}.0", f"{n}.*")] + ["*"]),
    59: ["1.0", "1.1", "2.0", "2.0.*", "2.1", "2.1.*", "2.40", "2.49", "2.49.*", "2.53",
         "2.53.*", "*"],
    60: ["1.0", "4.0", "4.*", "11.0", "11.*"],
    61: ["4.0", "11.0", "11.*"] + [v for n in range(12, 141) for v in (f"{n}.0", f"{n}.*")] + ["*"],
}
_HOSTILE = ("<b>&amp;", "\"quoted\"", "it's", "\u00e9t\u00e9", "a&b", "x<y>z")


class _Ids:
    """Sequential ids per table, so rows can point at each other before insert."""

    def __init__(self):
        self.last = {}

    def next(self, table):
        self.last[table] = self.last.get(table, 0) + 1
        return self.last[table]


class Generator:
    def __init__(self, addons, seed, shape):
        self.rng = random.Random(seed)
        self.count = addons
        self.shape = shape
        self.ids = _Ids()
        self.rows = {}
        self.clock = BASE_TIME - datetime.timedelta(days=3000)
        self.appversions = {}  # app id -> [(appversion id, version)] in version_int order
        # Spread the rows' timestamps over ~8 years, whatever the size.
        self.max_step = max(2, int(2.5e8 / (addons * 15)))

    # -- helpers -------------------------------------------------------------
    def add(self, table, **row):
        self.rows.setdefault(table, []).append(row)
        return row

    def tick(self):
        self.clock += datetime.timedelta(seconds=self.rng.randrange(1, self.max_step))
        return min(self.clock, BASE_TIME)

    def stamps(self):
        created = self.tick()
        modified = min(created + datetime.timedelta(seconds=self.rng.randrange(0, 86400)), BASE_TIME)
        return {"created": created, "modified": modified}

    def weighted(self, pairs):
        values, weights = zip(*pairs)
        return self.rng.choices(values, weights)[0]

    def chance(self, p):
        return self.rng.random() < p

    def hex(self, n):
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def word(self, n=6):
        return "".join(self.rng.choice(string.ascii_lowercase) for _ in range(n))

    def translation(self, texts):
        """A translation id with one row per (locale, text)."""
        tid = self.ids.next("translation_ids")
        for locale, text in texts.items():
            self.add("translations", id=tid, locale=locale, localized_string=text, **self.stamps())
        return tid

    # -- applications ----------------------------------------------------------
    def make_appversions(self):
        for app_id, versions in _APP_VERSIONS.items():
            ordered = sorted(versions, key=compat.version_int)
            entries = []
            for version in ordered:
                avid = self.ids.next("appversions")
                self.add("appversions", id=avid, application_id=app_id, version=version,
                         version_int=compat.version_int(version), **self.stamps())
                entries.append((avid, version))
            self.appversions[app_id] = entries

    # -- add-ons -----------------------------------------------------------------
    def guid_for(self, addon_id, kind):
        if kind == PERSONA:
            return None
        if self.chance(0.5):
            raw = "%032x" % self.rng.getrandbits(128)
            guid = "{%s-%s-%s-%s-%s}" % (raw[:8], raw[8:12], raw[12:16], raw[16:20], raw[20:])
        else:
            guid = f"{self.word(self.rng.randint(3, 10))}-{addon_id}@{self.word(5)}.example.com"
        if self.chance(self.shape.upper_case_guid):
            guid = guid.upper()
        if self.chance(self.shape.hostile_strings):
            guid = f"{self.rng.choice(_HOSTILE)}-{addon_id}@hostile.example"
        return guid

    def make_addon(self, addon_id):
        kind = self.weighted(self.shape.type_weights or _TYPE_WEIGHTS)
        status = self.weighted(_STATUS_WEIGHTS)
        name = f"{self.word(self.rng.randint(4, 9)).capitalize()} {self.word(5)}"
        texts = {"en-US": name}
        for locale in self.rng.sample(LOCALES[1:], self.rng.randint(0, 3)):
            texts[locale] = f"{name} ({locale})"
        if kind == PERSONA and self.chance(0.1):
            del texts["en-US"]  # a theme named only in other locales
            texts.setdefault("de", f"{name} (de)")
        summary = {locale: f"About {text}" for locale, text in texts.items()}
        addon = self.add(
            "addons", id=addon_id, guid=self.guid_for(addon_id, kind),
            slug=f"{self.word(self.rng.randint(3, 12))}-{addon_id}", addontype_id=kind,
            status=status, inactive=1 if self.chance(0.03) else 0,
            name=self.translation(texts), summary=self.translation(summary) if self.chance(0.9) else None,
            current_version=None, **self.stamps())
        if kind == PERSONA:
            self.make_persona(addon)
        else:
            self.make_versions(addon, kind)
        return addon

    def version_strings(self, count):
        major, minor, strings = 1, 0, []
        for k in range(count):
            roll = self.rng.random()
            if roll < 0.55:
                minor += 1
            elif roll < 0.8:
                major, minor = major + 1, 0
            text = f"{major}.{minor}"
            if self.chance(0.05):
                text += self.rng.choice(("b1", "a2", "rc1", "pre", ".1"))
            if k and self.chance(self.shape.backport):
                text = f"{max(major - 1, 0)}.{minor}.{self.rng.randint(1, 9)}"
            if k and self.chance(self.shape.duplicate_version_string):
                text = strings[-1]
            if self.chance(self.shape.hostile_strings):
                text = f"{text}{self.rng.choice(_HOSTILE)}"
            strings.append(text)
        return strings

    def make_versions(self, addon, kind=EXTENSION):
        if self.chance(self.shape.no_versions):
            return
        if kind == STATICTHEME and self.shape.theme_versions:
            count, apps = self.rng.randint(1, self.shape.theme_versions), [1]
        else:
            count = min(int(self.rng.paretovariate(self.shape.mean_versions)), self.shape.max_versions)
            shares = self.shape.app_share or _APP_SHARE.items()
            apps = [app for app, share in shares if self.chance(share)] or [1]
        current = None
        strings = self.version_strings(count)
        for k, text in enumerate(strings):
            vid = self.ids.next("versions")
            notes = None
            if self.chance(self.shape.release_notes):
                notes = 0 if self.chance(0.02) else self.translation({"en-US": f"Fixes in {text}"})
            channel = 1 if self.chance(self.shape.unlisted) else 2
            deleted = 1 if self.chance(self.shape.deleted_version) else 0
            self.add("versions", id=vid, addon_id=addon["id"], version=text, releasenotes=notes,
                     channel=channel, deleted=deleted, **self.stamps())
            approved = self.make_files(addon, vid, text)
            self.make_app_ranges(vid, apps, (k + 1) / len(strings))
            if approved and channel == 2 and not deleted:
                current = vid
        addon["current_version"] = current

    def make_files(self, addon, vid, version):
        shape = self.shape
        if self.chance(shape.platform_files):
            platforms = self.rng.sample([2, 3, 5, 7], self.rng.randint(1, 3))
        else:
            platforms = [compat.PLATFORM_ALL]
        if self.chance(shape.mixed_platform_files):
            platforms = sorted(set(platforms) | {compat.PLATFORM_ALL, self.rng.choice([2, 3, 5, 7])})
        approved = False
        for platform in platforms:
            fid = self.ids.next("files")
            status = self.rng.choice((1, 5, 0)) if self.chance(shape.file_not_approved) else 4
            approved = approved or status == 4
            stem = f"{addon['slug']}-{version}"
            if not stem.isascii() or not all(c.isalnum() or c in "-._" for c in stem):
                stem = f"{addon['slug']}-{vid}"
            if self.chance(shape.hostile_strings):
                stem += self.rng.choice((" space", "+plus", "%25", "#hash"))
            self.add("files", id=fid, version_id=vid, platform_id=platform,
                     filename=f"{stem}-{compat.PLATFORMS[platform].lower()}.xpi",
                     hash="" if self.chance(shape.no_hash) else f"sha256:{self.hex(64)}",
                     status=status, datestatuschanged=None,
                     strict_compatibility=1 if self.chance(shape.strict_file) else 0,
                     binary_components=1 if self.chance(shape.binary_file) else 0,
                     **self.stamps())
        return approved

    def make_app_ranges(self, vid, apps, age):
        for app_id in apps:
            entries = self.appversions[app_id]
            last = len(entries) - 1
            center = int(age * last * 0.95)
            low = max(0, center - self.rng.randint(0, 12))
            high = min(last, center + self.rng.randint(0, 15))
            if self.chance(self.shape.star_max):
                high = last
            self.add("applications_versions", id=self.ids.next("applications_versions"),
                     application_id=app_id, version_id=vid, min=entries[low][0],
                     max=entries[high][0], **self.stamps())

    # -- compat overrides ----------------------------------------------------------
    def make_override(self, addon, versions):
        oid = self.ids.next("compat_override")
        self.add("compat_override", id=oid, name=f"Override for {addon['slug']}",
                 guid=addon["guid"], addon_id=addon["id"], **self.stamps())
        strings = [v["version"] for v in versions] or ["1.0"]
        for _ in range(self.rng.randint(1, 3)):
            app_id = self.rng.choice([1, 1, 1, 61, 18, 59])
            app_versions = [v for _, v in self.appversions[app_id]]
            low_app = self.rng.randrange(len(app_versions))
            high_app = self.rng.randrange(low_app, len(app_versions))
            self.add(
                "compat_override_range", id=self.ids.next("compat_override_range"), compat_id=oid,
                type=1 if self.chance(0.85) else 0,
                min_version=self.rng.choice(("0", "0", self.rng.choice(strings), "ver1")),
                max_version=self.rng.choice(("*", "*", self.rng.choice(strings), "nope")),
                app_id=app_id,
                min_app_version="0" if self.chance(0.3) else app_versions[low_app],
                max_app_version="*" if self.chance(0.3) else app_versions[high_app],
                **self.stamps())

    # -- lightweight themes --------------------------------------------------------
    def make_persona(self, addon):
        vid = self.ids.next("versions")
        self.add("versions", id=vid, addon_id=addon["id"], version=f"{self.rng.randint(0, 9)}",
                 releasenotes=None, channel=2, deleted=0, **self.stamps())
        addon["current_version"] = vid
        addon["status"] = 4 if self.chance(0.9) else self.rng.choice((1, 5, 11))
        persona_id = 0 if self.chance(0.4) else 100000 + addon["id"]

        def colour():
            roll = self.rng.random()
            return None if roll < 0.1 else "" if roll < 0.15 else self.hex(6)

        self.add("personas", id=self.ids.next("personas"), addon_id=addon["id"],
                 persona_id=persona_id, header=f"header-{self.word(4)}.png",
                 footer=self.rng.choice((f"footer-{self.word(4)}.png", "", None)),
                 accentcolor=colour(), textcolor=colour(),
                 display_username=self.rng.choice((f"{self.word(7)}", "Ren\u00e9e & <Co>")),
                 author=self.word(7), checksum=self.hex(64) if self.chance(0.6) else "",
                 **self.stamps())

    def make_migrations(self, addons):
        personas = [a for a in addons if a["addontype_id"] == PERSONA]
        statics = [a for a in addons if a["addontype_id"] == STATICTHEME and a["current_version"]]
        persona_rows = {p["addon_id"]: p for p in self.rows.get("personas", [])}
        self.rng.shuffle(statics)
        for persona, static in zip(self.rng.sample(personas, len(personas) // 5), statics):
            self.add("migrated_personas", id=self.ids.next("migrated_personas"),
                     lightweight_theme_id=persona["id"], static_theme_id=static["id"],
                     getpersonas_id=persona_rows[persona["id"]]["persona_id"], **self.stamps())

    # -- blocklist -------------------------------------------------------------------
    def details(self, name):
        did = self.ids.next("bldetails")
        why = self.rng.choice((
            f"{name} collects browsing data without consent.",
            f"{name} causes crashes on start-up; see <a href=\"https://bugzilla.mozilla.org/\">the bug</a> & more.",
            "Malware that hijacks search settings.",
            f"{name} injects advertising into web pages.\nIt also changes the home page.",
        ))
        bug = f"https://bugzilla.mozilla.org/show_bug.cgi?id={self.rng.randint(400000, 1900000)}"
        self.add("bldetails", id=did, name=name, why=why,
                 who=self.rng.choice(("All Firefox users who have this add-on installed.",
                                      "Users of versions < 2.0 on Windows & Mac.")),
                 bug=bug if self.chance(0.9) else "", **self.stamps())
        return did

    def blapp(self, item_key, item_id, app_guid):
        app_versions = None
        for app in compat.APPLICATIONS:
            if app.guid == app_guid:
                app_versions = [v for _, v in self.appversions[app.id]]
        low = high = None
        if app_versions and self.chance(0.7):
            i = self.rng.randrange(len(app_versions))
            low, high = app_versions[i], app_versions[self.rng.randrange(i, len(app_versions))]
        owners = {"blitem_id": None, "blplugin_id": None, item_key: item_id}
        self.add("blapps", id=self.ids.next("blapps"), **owners, guid=app_guid, min=low, max=high,
                 **self.stamps())

    def base64(self, size):
        return base64.b64encode(self.rng.randbytes(size)).decode("ascii")

    def make_blocklist(self, addons):
        """Blocks of every kind. The first rows of each table are fixed kinds, so
        even a small dataset has them all: a GUID and a `why` holding <&"'>, a
        regular-expression GUID, a second range for one GUID, an item without a
        GUID, a plugin and a gfx entry for every application, both cert forms."""
        count = max(20, self.count // 25)
        guids = [a["guid"] for a in addons if a["guid"]]
        app_guids = [app.guid for app in compat.APPLICATIONS]
        items = []
        for n in range(count):
            name = f"Blocked {self.word(6).capitalize()}"
            roll = self.rng.random()
            if roll < 0.15 or n == 1:
                guid = f"/^({self.word(5)}|{self.word(4)})@(ext|addon)\\.example$/"
            elif (roll < 0.25 and items) or n == 2:
                guid = self.rng.choice(items)["guid"]  # a second range for the same add-on
            elif roll < 0.28 or n == 3:
                guid = None  # matched by the name filter alone
            elif guids:
                guid = self.rng.choice(guids)
            else:
                guid = f"{self.word(8)}@blocked.example"
            if n == 0:
                guid, name = "evil<&\"'>@blocked.example", "Evil <&\"'> add-on"
            item = self.add(
                "blitems", id=self.ids.next("blitems"), guid=guid,
                min=self.rng.choice((None, "0", "1.0")), max=self.rng.choice((None, "*", "2.5.1")),
                os=self.rng.choice((None, None, "WINNT", "Darwin,Linux")),
                severity=self.rng.choice((None, 0, 1, 3, 3)),
                details_id=self.details(name),
                name=name if guid is None or self.chance(0.5) else None,
                creator=self.word(8) if self.chance(0.3) else None,
                homepage_url=f"https://{self.word(6)}.example/" if self.chance(0.2) else None,
                update_url=f"https://{self.word(6)}.example/update.rdf?a=1&b=2" if self.chance(0.1) else None,
                **self.stamps())
            items.append(item)
            for _ in range(self.rng.choice((0, 1, 1, 2))):
                self.blapp("blitem_id", item["id"], self.rng.choice(app_guids + [None]))
            for _ in range(self.rng.choice((0, 0, 0, 1, 2))):
                self.add("blitemprefs", id=self.ids.next("blitemprefs"), blitem_id=item["id"],
                         pref=f"extensions.{self.word(6)}.{self.word(4)}", **self.stamps())
        for n in range(max(5, count // 3)):
            name = f"{self.word(6).capitalize()} Plugin"
            bounds = self.rng.choice(("both", "both", "none", "none", "min"))
            severity = self.rng.choice((None, 0, 0, 1, 3))
            plugin = self.add(
                "blplugins", id=self.ids.next("blplugins"),
                name=f"^{name} [0-9.]+$" if self.chance(0.8) else None, guid=None,
                min=None if bounds == "none" else "1.0",
                max=f"{self.rng.randint(2, 30)}.*" if bounds == "both" else None,
                os=self.rng.choice((None, "WINNT", "Darwin")),
                xpcomabi=self.rng.choice((None, None, "x86-msvc")),
                description=f"^{self.word(5)} .*$" if self.chance(0.4) else None,
                filename=f"np{self.word(5)}\\.dll" if self.chance(0.6) else None,
                severity=severity,
                vulnerability_status=self.rng.choice((1, 2)) if severity == 0 and self.chance(0.6) else None,
                info_url=f"https://{self.word(6)}.example/update?x=1&y=2" if self.chance(0.5) else None,
                details_id=self.details(name), **self.stamps())
            for _ in range(self.rng.choice((0, 0, 1, 2)) if n else 0):
                self.blapp("blplugin_id", plugin["id"], self.rng.choice(app_guids + [None]))
        for n in range(max(5, count // 4)):
            devices = " ".join(f"0x{self.hex(4)}" for _ in range(self.rng.randint(0, 3)))
            self.add(
                "blgfxdrivers", id=self.ids.next("blgfxdrivers"),
                guid=self.rng.choice((None, app_guids[0], app_guids[1])) if n else None,
                os=self.rng.choice(("WINNT 6.1", "WINNT 10.0", "Darwin 12", "All")),
                vendor=self.rng.choice(("0x10de", "0x1002", "0x8086")), devices=devices or None,
                feature=self.rng.choice(("DIRECT2D", "WEBGL_MSAA", "DIRECT3D_9_LAYERS")),
                feature_status=self.rng.choice(("BLOCKED_DRIVER_VERSION", "BLOCKED_DEVICE")),
                driver_version=f"{self.rng.randint(6, 30)}.{self.rng.randint(0, 20)}.{self.rng.randint(0, 9999)}",
                driver_version_max=None if self.chance(0.8) else "99.0",
                driver_version_comparator=self.rng.choice(
                    ("LESS_THAN", "LESS_THAN_OR_EQUAL", "EQUAL", "GREATER_THAN_OR_EQUAL", None)),
                hardware=self.rng.choice((None, None, "ARM")),
                application_min=self.rng.choice((None, "45.0")),
                application_max=self.rng.choice((None, "60.*")),
                details_id=self.details("Graphics driver"), **self.stamps())
        for n in range(max(3, count // 5)):
            if n % 3 == 1:
                # The subject + public key hash form (vamo's convention, see
                # vamo.blocklist.data.PUBKEY_HASH_MARKER): the subject in `issuer`.
                issuer, serial = self.base64(60), "pubKeyHash:" + self.base64(32)
            else:
                issuer, serial = self.base64(60), self.base64(self.rng.choice((8, 16, 20)))
            self.add("blissuercert", id=self.ids.next("blissuercert"), issuer=issuer, serial=serial,
                     details_id=self.details("Revoked certificate"), **self.stamps())
        self.add("blca", id=1, data="-----BEGIN CERTIFICATE-----\nMIIB" + self.hex(40) +
                 "\n-----END CERTIFICATE-----\n", **self.stamps())

    # -- everything --------------------------------------------------------------------
    def build(self):
        self.make_appversions()
        addons = [self.make_addon(addon_id) for addon_id in range(1, self.count + 1)]
        versions_by_addon = {}
        for version in self.rows.get("versions", []):
            versions_by_addon.setdefault(version["addon_id"], []).append(version)
        for addon in addons:
            if addon["guid"] and addon["addontype_id"] == EXTENSION and self.chance(self.shape.override):
                self.make_override(addon, versions_by_addon.get(addon["id"], []))
        self.make_migrations(addons)
        self.make_blocklist(addons)
        return self.rows


_INSERT_ORDER = (
    "translations", "appversions", "addons", "versions", "files", "applications_versions",
    "compat_override", "compat_override_range", "personas", "migrated_personas",
    "bldetails", "blitems", "blitemprefs", "blplugins", "blapps", "blgfxdrivers",
    "blissuercert", "blca",
)


# The tables of AMO's current generation (vamo/dev/schema_current.sql).
_CURRENT_TABLES = ("translations", "appversions", "addons", "versions", "files", "applications_versions")


def build_rows(addons, seed=1, shape="realistic", generation="classic"):
    """The rows `generate` writes, as {table: [row dict, ...]} (nothing is written)."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r} (known: {', '.join(SHAPES)})")
    rows = Generator(addons, seed, SHAPES[shape]).build()
    return as_current(rows) if generation == "current" else rows


def _microseconds(stamp, row_id):
    # DATETIME(6): a fraction of a second that differs from row to row.
    return stamp.replace(microsecond=(row_id * 7919) % 1_000_000)


def as_current(rows):
    """The same catalogue as AMO holds it since 2021 (D20): no platforms or binary
    components, one file per version (the all-platform one where there is one),
    `filename` a path `<last 2 digits of the add-on id>/<last 4>/<add-on id>/<name>`,
    DATETIME(6) stamps, and none of the compat override, lightweight-theme and
    legacy blocklist tables."""
    addon_of = {version["id"]: version["addon_id"] for version in rows.get("versions", [])}
    kept = {}
    for row in rows.get("files", []):
        first = kept.get(row["version_id"])
        if first is None or (row["platform_id"] == compat.PLATFORM_ALL and first["platform_id"] != 1):
            kept[row["version_id"]] = row
    files = []
    for row in sorted(kept.values(), key=lambda r: r["id"]):
        row = {key: value for key, value in row.items() if key not in ("platform_id", "binary_components")}
        addon_id = addon_of[row["version_id"]]
        row["filename"] = f"{addon_id % 100:02d}/{addon_id % 10000:04d}/{addon_id}/{row['filename']}"
        files.append(row)
    current = {table: rows.get(table, []) for table in _CURRENT_TABLES}
    current["files"] = files
    for table, table_rows in current.items():
        current[table] = [
            {**row, "created": _microseconds(row["created"], n), "modified": _microseconds(row["modified"], n)}
            for n, row in enumerate(table_rows, 1)]
    return current


def write_rows(db, rows, batch=2000):
    """Insert rows built by `build_rows` into `db`, table by table."""
    for table in _INSERT_ORDER:
        table_rows = rows.get(table, [])
        if not table_rows:
            continue
        columns = list(table_rows[0])
        sql = "INSERT INTO %s (%s) VALUES (%s)" % (
            table, ", ".join(columns), ", ".join(["%s"] * len(columns)))
        with db.transaction():
            for start in range(0, len(table_rows), batch):
                db.executemany(sql, [tuple(r[c] for c in columns) for r in table_rows[start:start + batch]])


def generate(db, addons=1000, seed=1, shape="realistic", reset=False, generation="classic"):
    """Write a generated AMO dataset of a schema generation into `db`; returns {table: row count}.

    Installs the schema when it is missing; refuses to write into a database
    that already holds add-ons unless `reset` (which drops vamo's tables).
    """
    if reset or not has_schema(db, generation):
        install_schema(db, drop=True, generation=generation)
    elif db.query("SELECT COUNT(*) FROM addons")[0][0]:
        raise ValueError("the database already holds add-ons; use --reset to replace them")
    rows = build_rows(addons, seed, shape, generation)
    write_rows(db, rows)
    return {table: len(rows.get(table, [])) for table in _INSERT_ORDER if table in rows}
