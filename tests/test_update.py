"""Behaviour of the update check, one decision at a time (D3-D12), against MariaDB.

Every answer is also asked of vamo/dev/legacy.py (two SQL queries per request,
as AMO did it) and must be byte-for-byte the same, except where a test says
why not.
"""

import json
import time
import xml.dom.minidom
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from werkzeug.test import Client

from tests.amo import ANDROID, FIREFOX, MOBILE, SEAMONKEY, THUNDERBIRD, Amo
from tests.support import make_config
from vamo import update
from vamo.core.caches import ResponseCache
from vamo.update_index import UpdateData
from vamo.update_render import EMPTY_RDF
from vamo.app import create_app
from vamo.dev.legacy import make_app as make_legacy

SITE = "https://amo.test"
CDN = "https://cdn.test/user-media/addons"


class Checker:
    """Asks vamo (in-process, data loaded once on first use) and an oracle (default: the legacy way)."""

    def __init__(self, url, oracle=make_legacy, **settings):
        self.config = make_config(database_url=url, site_url=SITE, addons_url=CDN, **settings)
        self.oracle = oracle
        self.service = None
        self.legacy = None

    def start(self):
        if self.service is None:
            self.service = create_app(self.config, setup_logging=False)
            assert self.service.refresher.run_once()
            self.client = Client(self.service)
            self.legacy = Client(self.oracle(self.config))
        return self

    def raw(self, query, compare=True, **kwargs):
        self.start()
        response = self.client.get("/update/VersionCheck.php?" + query, **kwargs)
        if compare:
            expected = self.legacy.get("/update/VersionCheck.php?" + query, **kwargs)
            assert (response.status_code, response.get_data()) == (
                expected.status_code, expected.get_data()), "vamo and the legacy way disagree"
        return response

    def get(self, guid, app=FIREFOX, version="5.0", os="WINNT", mode="strict", compare=True, **extra):
        params = {"reqVersion": "2", "id": guid, "version": "1.0", "appID": app.guid,
                  "appVersion": version, "appOS": os, "compatMode": mode, **extra}
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return self.raw(query, compare=compare)

    def offered(self, guid, **kwargs):
        """The version string offered by a JSON or RDF answer, or None (no update)."""
        response = self.get(guid, **kwargs)
        assert response.status_code == 200
        if response.mimetype == "text/xml":
            versions = xml.dom.minidom.parseString(response.get_data()).getElementsByTagName("em:version")
            return versions[0].firstChild.data if versions else None
        updates = response.json["addons"][next(iter(response.json["addons"]))]["updates"]
        return updates[0]["version"] if updates else None


@pytest.fixture
def amo(mysql_db):
    return Amo(mysql_db)


@pytest.fixture
def check(mysql_url):
    return Checker(mysql_url)


# -- status rules (D5) -----------------------------------------------------------------------

def test_offers_the_approved_file_of_a_listed_version(amo, check):
    addon = amo.addon(guid="good@example.com")
    amo.release(addon, "1.0")
    amo.release(addon, "1.1")
    assert check.offered("good@example.com") == "1.1"


@pytest.mark.parametrize("file_status", [0, 1, 5])
def test_files_not_approved_are_skipped(amo, check, file_status):
    addon = amo.addon(guid="pending@example.com")
    amo.release(addon, "1.0")
    amo.release(addon, "2.0", file_status=file_status)
    assert check.offered("pending@example.com") == "1.0"


@pytest.mark.parametrize("status, inactive", [(5, 0), (11, 0), (4, 1)])
def test_disabled_deleted_or_inactive_addons_get_the_empty_document(amo, check, status, inactive):
    addon = amo.addon(guid="gone@example.com", status=status, inactive=inactive)
    amo.release(addon, "1.0")
    response = check.get("gone@example.com")
    assert (response.status_code, response.get_data()) == (200, b"{}")


@pytest.mark.parametrize("status", [0, 1, 3])
def test_other_addon_statuses_still_get_their_approved_files(amo, check, status):
    addon = amo.addon(guid="nominated@example.com", status=status)
    amo.release(addon, "1.0")
    assert check.offered("nominated@example.com") == "1.0"


def test_unlisted_and_deleted_versions_are_skipped(amo, check):
    addon = amo.addon(guid="channels@example.com")
    amo.release(addon, "1.0")
    amo.release(addon, "2.0", channel=1)
    amo.release(addon, "3.0", deleted=1)
    assert check.offered("channels@example.com") == "1.0"


def test_unknown_addon_gets_the_empty_document(amo, check):
    amo.release(amo.addon(guid="known@example.com"), "1.0")
    response = check.get("unknown@example.com")
    assert (response.status_code, response.get_data()) == (200, b"{}")
    rdf = check.get("unknown@example.com", app=THUNDERBIRD)
    assert (rdf.status_code, rdf.get_data()) == (200, EMPTY_RDF)


def test_guids_match_whatever_their_case_and_answer_the_id_as_sent(amo, check):
    amo.release(amo.addon(guid="{ABCDEF12-3456-7890-abcd-ef1234567890}"), "1.0")
    response = check.get("{abcdef12-3456-7890-ABCD-EF1234567890}")
    # Firefox looks its entry up by exact key: the stored casing would be no update.
    assert list(response.json["addons"]) == ["{abcdef12-3456-7890-ABCD-EF1234567890}"]
    assert check.offered("{ABCDEF12-3456-7890-abcd-ef1234567890}") == "1.0"


def test_an_addon_without_any_candidate_gets_an_empty_update_list(amo, check):
    amo.addon(guid="empty@example.com")
    response = check.get("empty@example.com")
    assert response.json == {"addons": {"empty@example.com": {"updates": []}}}


# -- platforms (D6) ----------------------------------------------------------------------------

def test_platform_files_only_reach_their_platform(amo, check):
    addon = amo.addon(guid="platform@example.com")
    amo.release(addon, "1.0")
    amo.release(addon, "2.0", platform=5)
    assert check.offered("platform@example.com", os="WINNT") == "2.0"
    assert check.offered("platform@example.com", os="Linux") == "1.0"
    assert check.offered("platform@example.com", os=None) == "1.0"
    assert check.offered("platform@example.com", os="FreeBSD") == "1.0"


def test_a_platform_file_wins_over_the_all_platform_file_of_its_version(amo, check):
    addon = amo.addon(guid="both@example.com")
    vid = amo.version(addon, "1.0")
    amo.file(vid, platform=5, filename="windows.xpi")
    amo.file(vid, platform=1, filename="all.xpi")
    amo.file(vid, platform=2, filename="linux.xpi")
    amo.app_range(vid)

    def link(os):
        return check.get("both@example.com", os=os).json["addons"]["both@example.com"]["updates"][0][
            "update_link"]
    assert "/windows.xpi" in link("WINNT")
    assert "/linux.xpi" in link("something Linux penguin")
    assert "/all.xpi" in link("Darwin")
    assert "/all.xpi" in link(None)


# -- compatibility modes (D7) ---------------------------------------------------------------------

def test_strict_needs_the_max_version_normal_and_ignore_do_not(amo, check):
    addon = amo.addon(guid="old@example.com")
    amo.release(addon, "1.0", min="3.0", max="20.*")
    assert check.offered("old@example.com", version="20.0.1", mode="strict") == "1.0"
    assert check.offered("old@example.com", version="30.0", mode="strict") is None
    assert check.offered("old@example.com", version="30.0", mode="normal") == "1.0"
    assert check.offered("old@example.com", version="30.0", mode="ignore") == "1.0"
    assert check.offered("old@example.com", version="30.0", mode="nonsense") is None  # = strict
    assert check.offered("old@example.com", version="30.0", mode=None) is None        # = strict


@pytest.mark.parametrize("flags", [{"strict": 1}, {"binary": 1}])
def test_normal_mode_still_checks_strict_and_binary_files(amo, check, flags):
    addon = amo.addon(guid="strict@example.com")
    amo.release(addon, "1.0", min="3.0", max="20.*")
    amo.release(addon, "2.0", min="3.0", max="20.*", **flags)
    assert check.offered("strict@example.com", version="30.0", mode="normal") == "1.0"
    assert check.offered("strict@example.com", version="30.0", mode="ignore") == "2.0"
    assert check.offered("strict@example.com", version="15.0", mode="normal") == "2.0"


def test_min_version_always_applies(amo, check):
    addon = amo.addon(guid="new@example.com")
    amo.release(addon, "1.0", min="60.0", max="*")
    for mode in ("strict", "normal", "ignore"):
        assert check.offered("new@example.com", version="59.0", mode=mode) is None
        assert check.offered("new@example.com", version="60.0", mode=mode) == "1.0"


@pytest.mark.parametrize("app, below, at", [
    (FIREFOX, "3.6", "4.0"), (THUNDERBIRD, "3.1", "5.0"), (SEAMONKEY, "2.0", "2.1"),
    (ANDROID, "4.0", "11.0"),
])
def test_normal_mode_needs_the_default_to_compatible_minimum(amo, mysql_url, app, below, at):
    guid = f"d2c-{app.short}@example.com"
    addon = amo.addon(guid=guid)
    amo.release(addon, "2.0", app=app, min="1.0" if app is not ANDROID else "4.0", max=at)
    amo.release(addon, "3.0", app=app, min="1.0" if app is not ANDROID else "4.0", max=below)
    check = Checker(mysql_url)
    assert check.offered(guid, app=app, version="99.0", mode="normal") == "2.0"
    assert check.offered(guid, app=app, version="99.0", mode="ignore") == "3.0"


def test_mobile_has_no_default_to_compatible_minimum(amo, mysql_url):
    addon = amo.addon(guid="fennec@example.com")
    amo.release(addon, "1.0", app=MOBILE, min="1.0", max="4.0")
    check = Checker(mysql_url)
    assert check.offered("fennec@example.com", app=MOBILE, version="11.0", mode="normal") == "1.0"


def test_stale_stored_version_int_is_recomputed(amo, check):
    # An AMO database may hold version_int values of an older generation
    # (`*` was 99000000200100); vamo recomputes them from the strings.
    addon = amo.addon(guid="stale@example.com")
    vid = amo.version(addon, "1.0")
    amo.file(vid)
    amo.db.execute("INSERT INTO applications_versions (application_id, version_id, min, max, created,"
                   " modified) VALUES (1, %s, %s, %s, NOW(), NOW())",
                   (vid, amo.appversion(FIREFOX, "3.0"), amo.appversion(FIREFOX, "*", 99000000200100)))
    assert check.offered("stale@example.com", version="140.0", compare=False) == "1.0"


# -- compat overrides (D8) ---------------------------------------------------------------------------

@pytest.fixture
def overridden(amo):
    addon = amo.addon(guid="overridden@example.com")
    for version in ("1.0", "1.1", "2.0", "3.0"):
        amo.release(addon, version, min="3.0", max="10.*")
    return addon


def normal(check, version="30.0", app=FIREFOX):
    return check.offered("overridden@example.com", version=version, mode="normal", app=app)


def test_without_override_normal_mode_offers_the_newest(overridden, check):
    assert normal(check) == "3.0"


def test_override_of_every_version_and_every_app_version(amo, overridden, check):
    amo.override(overridden, (1, "0", "*", FIREFOX, "0", "*"))
    assert normal(check) is None
    assert check.offered("overridden@example.com", version="5.0", mode="strict") == "3.0"


def test_override_of_an_addon_version_range(amo, overridden, check):
    amo.override(overridden, (1, "1.1", "3.0", FIREFOX, "0", "*"))
    assert normal(check) == "1.0"


def test_override_of_an_app_version_range(amo, overridden, check):
    amo.override(overridden, (1, "0", "*", FIREFOX, "25.0", "35.*"))
    assert normal(check, "30.0") is None
    assert normal(check, "24.0") == "3.0"
    assert normal(check, "36.0") == "3.0"


def test_override_with_open_ended_app_ranges(amo, overridden, check):
    amo.override(overridden, (1, "2.0", "*", FIREFOX, "25.0", "*"), (1, "0", "1.1", FIREFOX, "0", "26.0"))
    assert normal(check, "24.0") == "3.0"
    assert normal(check, "26.0") is None
    assert normal(check, "27.0") == "1.1"


def test_override_naming_an_unknown_version_does_nothing(amo, overridden, check):
    amo.override(overridden, (1, "ver1", "*", FIREFOX, "0", "*"), (1, "0", "9.9", FIREFOX, "0", "*"))
    assert normal(check) == "3.0"


def test_override_of_type_0_does_nothing(amo, overridden, check):
    amo.override(overridden, (0, "0", "*", FIREFOX, "0", "*"))
    assert normal(check) == "3.0"


def test_override_applies_to_its_application_only(amo, mysql_url, overridden):
    amo.release(overridden, "4.0", app=ANDROID, min="11.0", max="40.0")
    amo.override(overridden, (1, "0", "*", ANDROID, "0", "*"))
    check = Checker(mysql_url)
    assert normal(check) == "3.0"
    assert normal(check, "50.0", app=ANDROID) is None


# -- ordering (D9) ---------------------------------------------------------------------------------

def test_the_highest_version_id_wins_not_the_highest_version_string(amo, check):
    addon = amo.addon(guid="backport@example.com")
    amo.release(addon, "2.0")
    amo.release(addon, "1.5.1")  # a later upload of a lower version
    assert check.offered("backport@example.com") == "1.5.1"


# -- output (D4, D10, D11) ---------------------------------------------------------------------------

def test_firefox_json_manifest(amo, mysql_db, check):
    addon = amo.addon(guid="full@example.com", slug="full-addon")
    notes = 1234
    amo.release(addon, "2.1", min="3.0", max="10.*", hash="sha256:3808b13e", strict=1, notes=notes,
                filename="full_addon-2.1-fx.xpi")
    response = check.get("full@example.com")
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_data() == json.dumps({"addons": {"full@example.com": {"updates": [{
        "version": "2.1",
        "update_link": f"{CDN}/{addon}/full_addon-2.1-fx.xpi?filehash=sha256%3A3808b13e",
        "applications": {"gecko": {"strict_min_version": "3.0", "strict_max_version": "10.*"}},
        "update_hash": "sha256:3808b13e",
        "update_info_url": f"{SITE}/%APP_LOCALE%/firefox/addon/full-addon/versions/2.1/updateinfo/",
    }]}}}).encode()


def test_json_without_hash_notes_or_strictness(amo, check):
    addon = amo.addon(guid="bare@example.com")
    amo.release(addon, "1.0", hash="", filename="bare.xpi")
    (update,) = check.get("bare@example.com").json["addons"]["bare@example.com"]["updates"]
    assert update == {"version": "1.0", "update_link": f"{CDN}/{addon}/bare.xpi",
                      "applications": {"gecko": {"strict_min_version": "3.0"}}}


def test_android_gets_json_with_its_short_name(amo, check):
    addon = amo.addon(guid="droid@example.com", slug="droid")
    amo.release(addon, "1.0", app=ANDROID, min="11.0", max="140.*", notes=1)
    response = check.get("droid@example.com", app=ANDROID, version="120.0", os="Android")
    (update,) = response.json["addons"]["droid@example.com"]["updates"]
    assert update["update_info_url"] == f"{SITE}/%APP_LOCALE%/android/addon/droid/versions/1.0/updateinfo/"


def test_seamonkey_gets_rdf(amo, check):
    addon = amo.addon(guid="sm@example.com", slug="sm")
    amo.release(addon, "2.0", app=SEAMONKEY, min="2.0", max="2.53.*", hash="sha256:ff", notes=7,
                filename="sm.xpi")
    response = check.get("sm@example.com", app=SEAMONKEY, version="2.53.1")
    assert response.headers["Content-Type"] == "text/xml"
    assert response.get_data().decode() == f"""<?xml version="1.0"?>
<RDF:RDF xmlns:RDF="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:em="http://www.mozilla.org/2004/em-rdf#">
    <RDF:Description about="urn:mozilla:extension:sm@example.com">
        <em:updates>
            <RDF:Seq>
                <RDF:li resource="urn:mozilla:extension:sm@example.com:2.0"/>
            </RDF:Seq>
        </em:updates>
    </RDF:Description>

    <RDF:Description about="urn:mozilla:extension:sm@example.com:2.0">
        <em:version>2.0</em:version>
        <em:targetApplication>
            <RDF:Description>
                <em:id>{SEAMONKEY.guid}</em:id>
                <em:minVersion>2.0</em:minVersion>
                <em:maxVersion>2.53.*</em:maxVersion>
                <em:updateLink>{CDN}/{addon}/sm.xpi?filehash=sha256%3Aff</em:updateLink>
                <em:updateInfoURL>{SITE}/%APP_LOCALE%/seamonkey/addon/sm/versions/2.0/updateinfo/</em:updateInfoURL>
                <em:updateHash>sha256:ff</em:updateHash>
            </RDF:Description>
        </em:targetApplication>
    </RDF:Description>
</RDF:RDF>
"""


# -- the format by what the client parses (D4) ---------------------------------------------------

@pytest.mark.parametrize("app, app_version, current, rdf", [
    # Thunderbird 68+ parses only JSON; 60 and older only RDF. The running
    # client's version (currentAppVersion) decides, as on addons.thunderbird.net.
    (THUNDERBIRD, "52.9.1", None, True),
    (THUNDERBIRD, "60.9.1", None, True),
    (THUNDERBIRD, "61.0", None, False),
    (THUNDERBIRD, "102.6.0", None, False),
    (THUNDERBIRD, "153.8.0", None, False),
    (THUNDERBIRD, "153.8.0", "153.8.0", False),
    (THUNDERBIRD, "3.7a1pre", "102.6.0", False),   # an old appVersion from a new client
    (THUNDERBIRD, "102.0", "60.0", True),          # the running client is what counts
    (THUNDERBIRD, "52.0", "", True),               # blank: appVersion decides
    (SEAMONKEY, "2.53.1", None, True),
    (SEAMONKEY, "2.53.1", "153.0", True),          # SeaMonkey binds JSON ranges to the toolkit
    (MOBILE, "11.0", None, True),
    (FIREFOX, "153.0", None, False),
    (ANDROID, "153.0", None, False),
])
def test_the_format_follows_what_the_client_parses(amo, check, app, app_version, current, rdf):
    addon = amo.addon(guid="fmt@Example.com")
    amo.release(addon, "1.0", app=app, min="1.0" if app is not ANDROID else "4.0", max="*")
    response = check.get("fmt@example.com", app=app, version=app_version, currentAppVersion=current)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == ("text/xml" if rdf else "application/json")
    if rdf:
        body = response.get_data().decode()
        assert 'about="urn:mozilla:extension:fmt@example.com"' in body  # the id as sent (D10)
        assert "<em:version>1.0</em:version>" in body
    else:
        assert response.json["addons"]["fmt@example.com"]["updates"][0]["version"] == "1.0"


def test_an_operator_can_force_rdf_for_an_application(amo, mysql_url):
    addon = amo.addon(guid="forced@example.com")
    amo.release(addon, "1.0", app=THUNDERBIRD, min="1.0", max="*")
    check = Checker(mysql_url, rdf_apps=frozenset({THUNDERBIRD.id}))
    response = check.get("forced@example.com", app=THUNDERBIRD, version="153.0", currentAppVersion="153.0")
    assert response.headers["Content-Type"] == "text/xml"
    firefox = check.get("forced@example.com", version="153.0")
    assert firefox.headers["Content-Type"] == "application/json"


def test_thunderbird_gets_json_and_rdf_answers_cached_apart(amo, check):
    addon = amo.addon(guid="both@example.com")
    amo.release(addon, "1.0", app=THUNDERBIRD, min="1.0", max="*")
    for _ in range(2):  # the second round is served from the cache
        old = check.get("both@example.com", app=THUNDERBIRD, version="60.0", currentAppVersion="60.0")
        new = check.get("both@example.com", app=THUNDERBIRD, version="60.0", currentAppVersion="115.0")
        assert old.headers["Content-Type"] == "text/xml"
        assert new.headers["Content-Type"] == "application/json"


def test_thunderbird_rdf_escapes_every_value(amo, check):
    guid = 'tb&<"quoted">@example.com'
    addon = amo.addon(guid=guid, type=2)
    amo.release(addon, '1.0 "<b>&', app=THUNDERBIRD, min="3.0", max="60.*", hash="")
    body = check.get(guid, app=THUNDERBIRD, version="60.0").get_data()
    document = xml.dom.minidom.parseString(body)  # well-formed despite the hostile strings
    descriptions = document.getElementsByTagName("RDF:Description")
    assert descriptions[0].getAttribute("about") == f"urn:mozilla:theme:{guid}"
    assert document.getElementsByTagName("em:version")[0].firstChild.data == '1.0 "<b>&'
    assert not document.getElementsByTagName("em:updateHash")
    assert not document.getElementsByTagName("em:updateInfoURL")


def test_rdf_without_an_update(amo, check):
    addon = amo.addon(guid="tb-old@example.com")
    amo.release(addon, "1.0", app=THUNDERBIRD, min="3.0", max="45.*")
    body = check.get("tb-old@example.com", app=THUNDERBIRD, version="52.0").get_data().decode()
    assert '<RDF:Description about="urn:mozilla:extension:tb-old@example.com">' in body
    assert "<RDF:Seq>\n            </RDF:Seq>" in body
    assert "em:version" not in body


# -- bad requests (D3) ---------------------------------------------------------------------------------

@pytest.mark.parametrize("missing, app, body", [
    ("id", FIREFOX, b"{}"), ("appVersion", FIREFOX, b"{}"), ("appID", FIREFOX, b"{}"),
    ("id", THUNDERBIRD, EMPTY_RDF), ("appVersion", SEAMONKEY, EMPTY_RDF),
])
def test_missing_or_blank_parameters_are_400_with_the_empty_document(amo, check, missing, app, body):
    amo.release(amo.addon(guid="x@example.com"), "1.0")
    for value in (None, ""):
        if missing == "id":
            response = check.get(value, app=app)
        else:
            response = check.get("x@example.com", app=app, **{missing: value})
        assert (response.status_code, response.get_data()) == (400, body)


def test_unknown_application_is_400(amo, check):
    amo.release(amo.addon(guid="x@example.com"), "1.0")
    response = check.raw("reqVersion=2&id=x%40example.com&appID=garbag2%E9%8E%88&appVersion=5.0")
    assert (response.status_code, response.get_data()) == (400, b"{}")


def test_last_repeated_parameter_wins(amo, check):
    addon = amo.addon(guid="x@example.com")
    amo.release(addon, "1.0", min="3.0", max="10.*")
    query = (f"id=nobody&id=x%40example.com&appID={quote(FIREFOX.guid)}&appVersion=40.0"
             "&appVersion=5.0&compatMode=ignore&compatMode=strict&reqVersion=2")
    response = check.raw(query)
    assert response.json["addons"]["x@example.com"]["updates"][0]["version"] == "1.0"


@pytest.mark.parametrize("query", [
    "id=x%40example.com&locale=%FF",            # a parameter the check does not read
    "id=x%40example.com&appOS=Linux&status=%C3%28",
    "id=x%40example.com&%E9key=1",
    "id=%FF%FE&appVersion=5.0",
])
def test_any_undecodable_parameter_is_400(amo, check, query):
    amo.release(amo.addon(guid="x@example.com"), "1.0")
    for _ in range(2):  # the second time past the decoded-value memo
        response = check.raw(f"reqVersion=2&appID={quote(FIREFOX.guid)}&appVersion=5.0&" + query)
        assert (response.status_code, response.get_data()) == (400, b"{}")


def test_parse_query_reads_what_parse_qsl_reads():
    queries = ["id=%7Ba%2Bb%7D&appID=%7Bx%7D&appOS=Linux+x86&locale=%C3%A9t%C3%A9&status=a%2Cb",
               "id=a+b&id=&appVersion=5.0&compatMode=%6eormal&x=%zz&y=%8"]
    for query in queries * 2:  # twice: decoded values are memoised
        expected = {k: v for k, v in parse_qsl(query, errors="strict") if k in update._WANTED}
        assert update.parse_query(query) == expected


# -- headers and conditional GET (D12) --------------------------------------------------------------------

def test_headers(amo, check):
    amo.release(amo.addon(guid="h@example.com"), "1.0")
    before = time.time()
    response = check.get("h@example.com")
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    expires = parsedate_to_datetime(response.headers["Expires"]).timestamp()
    assert before + 3600 - 2 <= expires <= time.time() + 3600 + 1
    modified = parsedate_to_datetime(response.headers["Last-Modified"]).timestamp()
    assert modified <= time.time() + 1
    assert response.headers["Content-Length"] == str(len(response.get_data()))
    assert response.headers["ETag"].startswith('"')


def test_a_matching_etag_gets_304(amo, check):
    amo.release(amo.addon(guid="h@example.com"), "1.0")
    etag = check.get("h@example.com").headers["ETag"]
    url = "/update/?" + urlencode({"id": "h@example.com", "appID": FIREFOX.guid, "appVersion": "5.0"})
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = check.client.get(url, headers={"If-None-Match": header})
        assert response.status_code == 304
        assert response.get_data() == b""
        assert response.headers["ETag"] == etag
        assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert check.client.get(url, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_head_has_headers_and_no_body_and_other_methods_are_405(amo, check):
    amo.release(amo.addon(guid="h@example.com"), "1.0")
    check.start()
    url = "/update/VersionCheck.php?" + urlencode({"id": "h@example.com", "appID": FIREFOX.guid,
                                                   "appVersion": "5.0"})
    get = check.client.get(url)
    head = check.client.head(url)
    assert head.status_code == 200 and head.get_data() == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    post = check.client.post(url)
    assert post.status_code == 405 and post.headers["Allow"] == "GET, HEAD"


def test_503_until_the_data_has_loaded(amo, mysql_url):
    amo.release(amo.addon(guid="h@example.com"), "1.0")
    service = create_app(make_config(database_url=mysql_url), setup_logging=False)
    url = "/update/?" + urlencode({"id": "h@example.com", "appID": FIREFOX.guid, "appVersion": "5.0"})
    response = Client(service).get(url)
    assert response.status_code == 503 and response.headers["Retry-After"]
    service.refresher.run_once()
    assert Client(service).get(url).status_code == 200


# -- the response cache ---------------------------------------------------------------------------------------

def test_cached_answers_are_dropped_when_the_addon_changes(amo, mysql_db, check):
    addon = amo.addon(guid="c@example.com")
    amo.release(addon, "1.0")
    assert check.offered("c@example.com") == "1.0"
    assert check.offered("c@example.com") == "1.0"  # now from the cache
    amo.release(addon, "1.1")
    check.service.refresher.run_once()
    assert check.offered("c@example.com") == "1.1"
    mysql_db.execute("UPDATE addons SET status = 5, modified = NOW() WHERE id = %s", (addon,))
    check.service.refresher.run_once()
    assert check.get("c@example.com").get_data() == b"{}"


class _Rendered:
    def __init__(self, size=100):
        self.body = b"x" * size


def test_the_cache_stays_within_its_bound_and_drops_changed_addons():
    cache = ResponseCache(max_answers=3)
    for n in range(5):
        cache.put(f"addon{n}", (1, 5, 5, 0, False, "a@example.com"), (False, 1, 7), _Rendered())
        assert cache.count == min(n + 1, 3)
    assert list(cache.by_addon) == ["addon2", "addon3", "addon4"]  # the oldest add-ons went first
    cache.put("addon4", (1, 6, 5, 0, False, "a@example.com"), (False, 1, 7), _Rendered())
    assert list(cache.by_addon) == ["addon3", "addon4"] and cache.count == 3
    cache.invalidate(["addon4"])  # as the refresher thread does
    assert "addon4" in cache.by_addon  # dropped by the request thread, before its next lookup
    cache.drop_changed()
    assert list(cache.by_addon) == ["addon3"] and cache.count == 1


def test_the_cache_stays_within_its_byte_bound_and_shares_equal_answers():
    cache = ResponseCache(max_answers=1_000_000, max_bytes=1_000_000)
    shared = _Rendered(10_000)
    for version in range(2000):  # one add-on, many app versions, one offered version
        cache.put("addon", (1, version, 5, 0, False, "a@example.com"), (False, 1, 7), shared)
    assert cache.count == 2000 and len({id(a) for a in cache.by_addon["addon"].values()}) == 1
    for n in range(1000):  # big answers for many add-ons
        cache.put(f"other{n}", (1, 5, 5, 0, False, "a@example.com"), (False, 1, 7), _Rendered(10_000))
        assert cache.bytes <= 1_000_000
    assert 50 < len(cache.by_addon) < 100
    assert cache.bytes == sum(size for _, size in cache.weights.values())
    assert cache.count == sum(requests for requests, _ in cache.weights.values())


def test_raw_query_strings_leave_with_their_addon_and_count_in_the_byte_bound():
    cache = ResponseCache(max_answers=1000, max_bytes=20_000)
    answer = _Rendered()
    cache.put("addon", (1, 5, 5, 0, False, "a@example.com"), (False, 1, 7), answer, "id=a%40example.com&v=1")
    cache.remember_query("addon", "id=A%40example.com&v=1", answer)  # another string, same request
    cache.remember_query("addon", "x" * 5000, answer)  # longer than any client's: not kept
    cache.remember_query("gone", "id=gone", answer)  # no answers cached for that add-on: not kept
    assert set(cache.by_query) == {"id=a%40example.com&v=1", "id=A%40example.com&v=1"}
    assert cache.bytes == sum(size for _, size in cache.weights.values())
    cache.invalidate(["addon"])
    cache.drop_changed()
    assert cache.by_query == {} and cache.bytes == 0 and cache.count == 0
    for n in range(100):  # many add-ons' strings: the oldest go, with their add-on
        cache.put(f"addon{n}", (1, 5, 5, 0, False, "a@example.com"), (False, 1, 7), answer, f"id=addon{n}" + "&" * 800)
        assert cache.bytes <= 20_000
    assert set(cache.by_query) == {q for answers in cache.by_addon.values() for q in answers if isinstance(q, str)}
    assert 5 < len(cache.by_query) < 100


def test_a_cache_of_size_0_keeps_nothing():
    cache = ResponseCache(max_answers=0)
    cache.put("addon", (1, 1, 5, 0, False, "a@example.com"), (False, 1, 7), _Rendered())
    assert cache.by_addon == {} and cache.count == 0


def test_vamo_cache_mb_bounds_the_answer_cache(demo_mysql_url):
    """VAMO_CACHE_MB is what the answer cache holds at most (the default, 48, would hold all of these)."""
    service = create_app(make_config(database_url=demo_mysql_url, cache_mb=1), setup_logging=False)
    assert service.refresher.run_once()
    data = next(source for source in service.refresher.sources if isinstance(source, UpdateData))
    cache = data.on_change.__self__
    client = Client(service)
    guids = [entry.guid for entry in data.index.values()]
    for minor in range(12):
        for guid in guids:
            query = urlencode({"reqVersion": "2", "id": guid, "version": "1.0", "appID": FIREFOX.guid,
                               "appVersion": f"128.{minor}", "appOS": "WINNT"})
            assert client.get("/update/VersionCheck.php?" + query).status_code == 200
    assert 0.8 * 2**20 < cache.bytes <= 2**20 and cache.max_bytes == 2**20
