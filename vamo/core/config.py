"""Settings, from environment variables only, read and checked once at start-up.

Every setting is declared once below with its default and its documentation;
`vamo settings` prints them as the table of docs/configuration.md. A bad value stops the
process with one line naming the variable (`ConfigError`).
"""

import os
import re
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from vamo import compat
from vamo.core.caches import CACHE_BYTES


class ConfigError(Exception):
    """A setting has a bad value; the message is one line naming it."""


def _text(value):
    return value.strip()


def _number(kind, minimum):
    def parse(value):
        try:
            number = kind(value)
        except ValueError:
            raise ValueError(f"expected a number >= {minimum}") from None
        if number < minimum or number != number:
            raise ValueError(f"expected a number >= {minimum}")
        return number
    return parse


def _port(value):
    port = _number(int, 1)(value)
    if port > 65535:
        raise ValueError("expected a port number from 1 to 65535")
    return port


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _boolean(value):
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("expected on/off (1/0, true/false, yes/no)")


def _base_url(value):
    """An absolute http(s) URL without query or fragment, kept without its final slash."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an absolute http:// or https:// URL")
    if parts.query or parts.fragment or any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError("expected a URL without query, fragment or spaces")
    if not value.isascii():  # it goes into headers (Location) and links as it is
        raise ValueError("expected an ASCII URL (a host name in punycode, a percent-encoded path)")
    return value.rstrip("/")


_HOST_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$")


def _host_list(value):
    hosts = tuple(h.strip().lower() for h in value.split(",") if h.strip())
    for host in hosts:
        if not _HOST_RE.match(host):
            raise ValueError(f"{host!r} is not a host name")
    return hosts


def _host(value):
    hosts = _host_list(value)
    if len(hosts) > 1:
        raise ValueError("expected one host name")
    return hosts[0] if hosts else ""


def _app_list(value):
    apps = []
    for name in value.split(","):
        if not name.strip():
            continue
        app = compat.find_application(name)
        if app is None:
            known = ", ".join(a.short for a in compat.APPLICATIONS)
            raise ValueError(f"unknown application {name.strip()!r} (known: {known})")
        apps.append(app.id)
    return frozenset(apps)


def _database_url(value):
    from vamo.core import db  # db imports config's error type; import late

    value = value.strip()
    if value:
        db.parse_url(value)  # raises ValueError with the reason
    return value


def _generation(value):
    value = value.strip().lower()
    if value not in ("", "classic", "current"):
        raise ValueError("expected classic or current")
    return value


def _log_level(value):
    level = value.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


@dataclass(frozen=True)
class Option:
    env: str
    attr: str
    default: str
    parse: Callable[[str], Any]
    doc: str


OPTIONS = (
    Option("VAMO_DATABASE_URL", "database_url", "", _database_url,
           "The AMO database: `mysql://user:password@host:3306/dbname`, "
           "`mysql://user:password@localhost/dbname?unix_socket=/run/mysqld/mysqld.sock` "
           "(add `?ssl=1` for TLS), or `sqlite:///path/to/file`. Empty: the embedded "
           "SQLite database at `VAMO_EMBEDDED_DATABASE`, filled with demo data on first use."),
    Option("VAMO_EMBEDDED_DATABASE", "embedded_database", "var/demo.sqlite3", _text,
           "Path of the embedded SQLite database used when `VAMO_DATABASE_URL` is empty."),
    Option("VAMO_DEMO_ADDONS", "demo_addons", "1000", _number(int, 1),
           "Number of demo add-ons generated into a new embedded database."),
    Option("VAMO_DEMO_GENERATION", "demo_generation", "classic", _generation,
           "Schema generation of a new embedded demo database: `classic` (AMO 2015-2021, "
           "addons.thunderbird.net) or `current` (AMO since 2021). An embedded database of "
           "the other generation is made anew."),
    Option("VAMO_SCHEMA_GENERATION", "schema_generation", "", _generation,
           "Force the database's schema generation (`classic` or `current`) instead of "
           "detecting it from its tables at start-up. Empty: detect."),
    Option("VAMO_SITE_URL", "site_url", "https://addons.mozilla.org", _base_url,
           "AMO's site: base of `update_info_url`, theme `detailURL` and redirect targets."),
    Option("VAMO_URL", "vamo_url", "https://versioncheck.addons.mozilla.org", _base_url,
           "This service's public URL: base of a theme's `updateURL`."),
    Option("VAMO_ADDONS_URL", "addons_url", "https://addons.cdn.mozilla.net/user-media/addons",
           _base_url, "Base of download links (`update_link`) and theme images."),
    Option("VAMO_REFRESH_SECONDS", "refresh_seconds", "5", _number(float, 0.1),
           "How often changes committed in the database are applied to the loaded data."),
    Option("VAMO_RECONCILE_SECONDS", "reconcile_seconds", "600", _number(float, 1),
           "How often the loaded data is checked against the database as a whole, to catch changes that "
           "carry no `modified` timestamp (hard deletes, raw SQL): by fingerprints for the update check, "
           "by a full reload for the rest. Each check comes up to a fifth of this early, at random, so "
           "workers and nodes started together do not all read the database at once."),
    Option("VAMO_STALE_SECONDS", "stale_seconds", "60", _number(float, 1),
           "`/__heartbeat__` fails when the loaded data has not been refreshed for this long."),
    Option("VAMO_RDF_APPS", "rdf_apps", "", _app_list,
           "Applications always answered with RDF, whatever the client's version "
           "(short names or ids: firefox, thunderbird, seamonkey, mobile, android). "
           "Empty: by what the client parses (JSON to Firefox, Android and Thunderbird "
           "above 60; RDF to Thunderbird 60 and older, SeaMonkey and Mobile)."),
    Option("VAMO_CACHE_SIZE", "cache_size", "100000", _number(int, 0),
           "Most rendered update-check answers kept in memory per process; 0 turns "
           "the cache off."),
    Option("VAMO_CACHE_MB", "cache_mb", str(CACHE_BYTES >> 20), _number(int, 1),
           "Most memory the update-check answer cache takes per process, in MiB (as its "
           "bookkeeping counts it). At 530,000 add-ons the default does not hold the "
           "bench's whole request mix; docs/operations.md gives what more buys."),
    Option("VAMO_THEME_CACHE_SIZE", "theme_cache_size", "20000", _number(int, 0),
           "Most rendered theme-check answers kept in memory per process (each about "
           "2.5 KB with its bookkeeping); 0 turns the cache off."),
    Option("VAMO_MIGRATED_THEMES", "migrated_themes", "on", _boolean,
           "Answer the theme check of a lightweight theme migrated to a static theme "
           "with `converted_theme` (on) or 404 (off)."),
    Option("VAMO_VERSIONCHECK_HOSTS", "versioncheck_hosts",
           "versioncheck.addons.mozilla.org,versioncheck-bg.addons.mozilla.org", _host_list,
           "Host names that serve the add-on and theme update checks."),
    Option("VAMO_BLOCKLIST_HOSTS", "blocklist_hosts", "blocklist.addons.mozilla.org", _host_list,
           "Host names that serve the blocklist and the `/blocked/` pages."),
    Option("VAMO_AMO_HOST", "amo_host", "addons.mozilla.org", _host,
           "AMO's host name: its legacy service paths (update check, blocklist, "
           "redirects) are answered here."),
    Option("VAMO_SERVICES_HOST", "services_host", "services.addons.mozilla.org", _host,
           "The retired services host: every path redirects to the same path on AMO."),
    Option("VAMO_GETPERSONAS_HOSTS", "getpersonas_hosts", "getpersonas.com,www.getpersonas.com",
           _host_list, "getpersonas.com host names, redirected to AMO's themes."),
    Option("VAMO_PFS_URL", "pfs_url", "https://pfs.mozilla.org/plugins/PluginFinderService.php",
           _base_url, "Plugin finder service that `/services/pfs.php` redirects to."),
    Option("VAMO_REDIRECT_RULES", "redirect_rules", "", _text,
           "File of redirect rules (format: docs/redirects.md); empty: the table vamo "
           "ships (`vamo/redirects/redirects.rules`)."),
    Option("VAMO_REDIRECT_MAX_AGE", "redirect_max_age", "86400", _number(int, 0),
           "`Cache-Control` max-age of permanent redirects (301, 308), in seconds: "
           "bounded, so a wrong rule does not stay in browsers for long."),
    Option("VAMO_VERSION_FILE", "version_file", "version.json", _text,
           "Dockerflow version object served at `/__version__` (path; relative paths "
           "are taken from the working directory)."),
    Option("VAMO_DB_CONNECT_TIMEOUT", "db_connect_timeout", "5", _number(float, 0.1),
           "Seconds to wait for a database connection."),
    Option("VAMO_DB_READ_TIMEOUT", "db_read_timeout", "60", _number(float, 0.1),
           "Seconds to wait for a database answer (the full load of a big database "
           "is one long answer)."),
    Option("VAMO_DB_REFRESH_TIMEOUT", "db_refresh_timeout", "10", _number(float, 0.1),
           "Seconds to wait for each answer to a small query (the refresher's ping and "
           "refreshes, the theme and redirect lookups of a request), also the refresher's "
           "statement time limit in MariaDB/MySQL: `/__heartbeat__` reports a hung database "
           "within this plus `VAMO_REFRESH_SECONDS`."),
    Option("VAMO_LISTEN", "listen", "0.0.0.0", _text,
           "Address `vamo serve` listens on."),
    Option("PORT", "port", "8000", _port, "Port `vamo serve` listens on."),
    Option("VAMO_WORKERS", "workers", "1", _number(int, 1),
           "Processes `vamo serve` runs (more than 1: gunicorn with meinheld workers)."),
    Option("VAMO_RECYCLE_MB", "recycle_mb", "8", _number(float, 0),
           "A worker whose refreshes have built this many MiB of index since it was "
           "forked is replaced by a fresh one, forked from the arbiter once its copy is "
           "up to date; the old one drains first. The arbiter loads afresh once it holds "
           "4 times this in changes (docs/operations.md). 0: never."),
    Option("VAMO_ACCESS_LOG", "access_log", "off", _boolean,
           "Write an access log line per request to stdout (costly; off by default)."),
    Option("VAMO_LOG_LEVEL", "log_level", "INFO", _log_level,
           "Level of the mozlog JSON lines written to stdout."),
    Option("SENTRY_DSN", "sentry_dsn", "", _text,
           "Sentry DSN; empty: errors are only logged."),
    Option("SENTRY_ENVIRONMENT", "sentry_environment", "", _text,
           "Environment name attached to Sentry events."),
    Option("STATSD_HOST", "statsd_host", "", _text,
           "statsd host for the `services.update` / `services.theme_update` timers; "
           "empty: no metrics, at no cost."),
    Option("STATSD_PORT", "statsd_port", "8125", _port, "statsd UDP port."),
    Option("STATSD_PREFIX", "statsd_prefix", "", _text,
           "Prefix put before every metric name (a dot is added)."),
)
_BY_ENV = {option.env: option for option in OPTIONS}


class Config:
    """The checked settings; attributes are the `attr` names of OPTIONS."""

    def __init__(self, values):
        self.__dict__.update(values)

    def __setattr__(self, name, value):
        raise AttributeError("Config is read-only; use replace()")

    def replace(self, **changes):
        unknown = set(changes) - set(self.__dict__)
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        return Config({**self.__dict__, **changes})

    def __repr__(self):
        return f"Config({self.__dict__!r})"


def load_config(environ=None):
    """Read every setting from `environ` (default os.environ) and check it."""
    environ = os.environ if environ is None else environ
    for name in environ:
        if name.startswith("VAMO_") and name not in _BY_ENV:
            raise ConfigError(f"{name}: unknown setting (docs/configuration.md lists them all)")
    values = {}
    for option in OPTIONS:
        raw = environ.get(option.env, option.default)
        try:
            values[option.attr] = option.parse(raw)
        except ValueError as error:
            shown = raw if len(raw) <= 80 else raw[:77] + "..."
            raise ConfigError(f"{option.env}: {error}, got {shown!r}") from None
    return Config(values)


def settings_markdown():
    """The settings as a Markdown table (docs/configuration.md's)."""
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for option in OPTIONS:
        default = f"`{option.default}`" if option.default else "(empty)"
        lines.append(f"| `{option.env}` | {default} | {option.doc} |")
    return "\n".join(lines)
