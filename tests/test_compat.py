"""version_int, the application and platform tables, overrides and the predicate."""

import pytest

from vamo import compat
from vamo.compat import IGNORE, NORMAL, STRICT, version_int

# Every worked example of AMO's current version_int (docs/update-check.md, version_int).
SPEC_EXAMPLES = [
    ("3.5.0a1pre2", 3050000001002),
    ("", 200100),
    ("0", 200100),
    ("*", 65535999999200100),
    ("*.0", 65535000000200100),
    ("65535", 65535000000200100),
    ("65536", 65535000000200100),
    ("65535.100", 65535990000200100),
    ("9999999", 65535000000200100),
    ("3.7a1pre", 3070000001000),
    ("3.0a1", 3000000001100),
    ("3.7a5pre", 3070000005000),
    ("3.7a5", 3070000005100),
    ("3.6.*", 3069999200100),
    ("4.0b8pre", 4000000108000),
    ("4.0b1", 4000000101100),
    ("4.0", 4000000200100),
    ("5.0", 5000000200100),
    ("6.0", 6000000200100),
    ("7.0", 7000000200100),
    ("8.0", 8000000200100),
    ("5.*", 5999999200100),
    ("6.*", 6999999200100),
    ("7.*", 7999999200100),
    ("\u2322 ugh stephend", 200100),
]


@pytest.mark.parametrize("version, expected", SPEC_EXAMPLES)
def test_version_int_spec_examples(version, expected):
    assert version_int(version) == expected


@pytest.mark.parametrize("left, right", [
    ("3.6.0.*", "3.6.0.99"), ("3.6.*.0", "3.6.99"), ("*", "65535.99.99.99"), ("*.0", "65535"),
    ("5.*.0", "5.99"),
])
def test_version_int_equal_pairs(left, right):
    assert version_int(left) == version_int(right)


@pytest.mark.parametrize("lower, higher", [
    ("3.6.99.98", "3.6.*"), ("98.*", "*"), ("5.0.*", "5.*"), ("3.6.8", "3.6.*"),
    ("4.0b1", "4.0"), ("4.0a1", "4.0b1"), ("4.0pre", "4.0"), ("127.0", "128.0"),
])
def test_version_int_orders(lower, higher):
    assert version_int(lower) < version_int(higher)


def test_version_int_matches_at_the_start_only():
    assert version_int("3.6.28esr") == version_int("3.6.28")
    assert version_int("1.0beta2") == version_int("1.0b")  # the "e" stops the alpha part
    assert version_int("92.0buildid20210903235534") == version_int("92.0b")
    assert version_int("36") == 36000000200100


def test_version_int_of_thousands_of_digits_is_capped_not_an_error():
    assert version_int("9" * 5000) == version_int("65535")
    assert version_int("1." + "9" * 5000) == version_int("1.99")


def test_version_int_never_exceeds_a_signed_bigint():
    assert version_int("99999999999999999999.99.99.99|99pre9") <= 2**63 - 1
    assert version_int("*.*.*.*") == version_int("*")


def test_applications_table():
    firefox = compat.APPS_BY_GUID["{ec8030f7-c20a-464f-9b0e-13a3a9e97384}"]
    assert (firefox.id, firefox.short, firefox.d2c_min_version) == (1, "firefox", "4.0")
    assert compat.APPS_BY_ID[61].d2c_min_version == "11.0"
    assert compat.APPS_BY_ID[18].d2c_min_version == "5.0"
    assert compat.APPS_BY_ID[59].d2c_min_version == "2.1"
    assert compat.D2C_MIN_INT[1] == version_int("4.0")
    assert compat.find_application("SeaMonkey").id == 59
    assert compat.find_application("60").short == "mobile"
    assert compat.find_application("netscape") is None


@pytest.mark.parametrize("app_os, platform", [
    ("WINNT", 5), ("Linux", 2), ("Darwin", 3), ("Android", 7), ("BSD_OS", 4), ("SunOS", 6),
    ("something Linux penguin", 2), ("Android Linux", 7), ("FreeBSD", 0), ("", 0), (None, 0),
    ("winnt", 0),
])
def test_appos_names_a_platform_by_substring(app_os, platform):
    assert compat.platform_from_appos(app_os) == platform


VERSIONS = [(10, "1.0"), (11, "1.1"), (12, "2.0"), (13, "2.0"), (14, "3.0")]


def test_overrides_compile_to_intervals():
    compiled = compat.compile_overrides([
        (1, "0", "*", 1, "0", "*"),             # every version, every app version
        (1, "1.1", "2.0", 61, "40.0", "50.*"),  # a version range, an app range
        (0, "0", "*", 18, "0", "*"),            # type 0 never excludes
        (1, "ver1", "*", 59, "0", "*"),         # unknown version string: void
        (1, "3.0", "1.0", 1, "0", "*"),         # inverted: void
    ], VERSIONS)
    assert compiled[1] == ((10, 14, compat.NO_LOWER_BOUND, compat.NO_UPPER_BOUND),)
    assert compiled[61] == ((11, 13, version_int("40.0"), version_int("50.*")),)
    assert 18 not in compiled and 59 not in compiled


def test_duplicate_version_strings_widen_the_range():
    (interval,) = compat.compile_overrides([(1, "2.0", "2.0", 1, "0", "*")], VERSIONS)[1]
    assert interval[:2] == (12, 13)


def qualifies(v, platform=0, mode=STRICT, **candidate):
    fields = dict(min_int=version_int("3.0"), max_int=version_int("10.*"), file_platform=1,
                  strict_file=False, d2c_min_int=compat.D2C_MIN_INT[1], version_id=12, overrides=None)
    fields.update(candidate)
    return compat.qualifies(version_int(v), platform, mode, **fields)


def test_predicate_min_always_applies():
    for mode in (STRICT, NORMAL, IGNORE):
        assert not qualifies("2.0", mode=mode)
        assert qualifies("3.0", mode=mode)


def test_predicate_max_by_mode():
    assert not qualifies("11.0", mode=STRICT)
    assert qualifies("10.5", mode=STRICT)
    assert qualifies("11.0", mode=IGNORE)
    assert qualifies("11.0", mode=NORMAL)
    assert not qualifies("11.0", mode=NORMAL, strict_file=True)


def test_predicate_default_to_compatible_minimum():
    low_max = dict(min_int=version_int("1.0"), max_int=version_int("3.6.*"))
    assert not qualifies("50.0", mode=NORMAL, **low_max)
    assert qualifies("50.0", mode=IGNORE, **low_max)
    assert qualifies("50.0", mode=NORMAL, d2c_min_int=0, **low_max)


def test_predicate_platform():
    assert qualifies("5.0", platform=5, file_platform=1)
    assert qualifies("5.0", platform=5, file_platform=5)
    assert not qualifies("5.0", platform=2, file_platform=5)
    assert not qualifies("5.0", platform=0, file_platform=5)


def test_predicate_override_only_in_normal_mode():
    overrides = ((11, 13, version_int("5.0"), version_int("6.*")),)
    assert not qualifies("5.5", mode=NORMAL, overrides=overrides)
    assert qualifies("7.0", mode=NORMAL, overrides=overrides)
    assert qualifies("5.5", mode=NORMAL, overrides=overrides, version_id=14)
    assert qualifies("5.5", mode=STRICT, overrides=overrides)
