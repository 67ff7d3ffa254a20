"""Legacy redirects (D17): the services, AMO and getpersonas.com URLs that old
clients and pages still call, answered from the rules table (`redirects.rules`,
format in `vamo.redirects.rules`).

vamo/app.py routes by the configured host names and says which site a request came
in on (`environ["vamo.site"]`); the Host header never reaches a `Location`.
Every target starts on a configured base URL and is built from percent-encoded
values, and a path that could turn a redirect into an open one (`//host`,
backslashes, a scheme, dot segments, control characters) gets a 400 before
any rule is tried. Only the rules with a lookup query the database: one
indexed query each, bound parameters; an unreachable database is a 503.

The router (vamo/app.py) sends here what no werkzeug rule of the site takes.
The table keeps its own matcher: its first matching rule wins (docs/redirects.md),
where werkzeug's prefers the most specific one and gives up on a refused value.
"""

import re
from urllib.parse import quote

from vamo.core.component import Component
from vamo.core.db import DatabaseError
from vamo.core.generations import THEME
from vamo.core.http import NOT_FOUND, UNAVAILABLE, Answer, send
from vamo.redirects.rules import (BASES, METHOD_PRESERVING, NO_LOOKUP, PERMANENT, SITES, Lookup,
                                  load_rules)

ADDON_DELETED = 11

# The add-on of a getpersonas persona id (personas.persona_id is indexed).
PERSONA_SQL = """
SELECT addons.id, addons.slug
FROM personas JOIN addons ON addons.id = personas.addon_id
WHERE personas.persona_id = %s AND addons.status <> %s
ORDER BY personas.id
LIMIT 1"""

# The add-on and version string of a version id (primary keys).
VERSION_SQL = """
SELECT addons.id, addons.slug, versions.version
FROM versions JOIN addons ON addons.id = versions.addon_id
WHERE versions.id = %s AND versions.deleted = 0 AND addons.status <> %s"""


def _addon_slug(addon_id, slug):
    # AMO's add-on pages take the id where an add-on has no slug.
    return slug or str(addon_id)


def find_persona(connections, values):
    if values["persona_id"] == 0:  # themes made on AMO itself have no getpersonas id
        return None
    rows = connections.query(PERSONA_SQL, (values["persona_id"], ADDON_DELETED))
    if not rows:
        return None
    addon_id, slug = rows[0]
    return {"slug": _addon_slug(addon_id, slug)}


def find_version(connections, values):
    rows = connections.query(VERSION_SQL, (values["version_id"], ADDON_DELETED))
    if not rows:
        return None
    addon_id, slug, version = rows[0]
    return {"slug": _addon_slug(addon_id, slug), "version": version}


LOOKUPS = {
    "persona": Lookup(needs=("persona_id",), gives=("slug",), find=find_persona, app=THEME),
    "version": Lookup(needs=("version_id",), gives=("slug", "version"), find=find_version),
}

# Single-host deployments ("default") get AMO's rules.
SITE_RULES = {"amo": "amo", "default": "amo", "services": "services", "getpersonas": "getpersonas"}

STATUS_LINES = {
    301: "301 Moved Permanently", 302: "302 Found",
    307: "307 Temporary Redirect", 308: "308 Permanent Redirect",
}
BAD_PATH = Answer("400 Bad Request")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A query string is kept as sent, but for spaces and bytes beyond ASCII,
# which are percent-encoded so the Location header is plain ASCII.
_QUERY_SAFE = "".join(chr(c) for c in range(0x21, 0x7f))


def is_safe_path(path):
    """Whether `path` (PATH_INFO) may be matched and copied into a Location.

    Rejects what could move a redirect to another host or split the header,
    whatever a browser or a proxy later does with it: no leading `/`
    (absolute-form request targets, `*`), `//` at the start (`/%2F` arrives
    decoded as that), backslashes (browsers read them as `/`; `%5C` arrives
    decoded), a scheme (`://`, or a colon in the first segment), dot segments
    and control characters (`%0D%0A` arrives decoded). meinheld decodes `%25`
    and the escape after it a second time (`%252F` arrives as `/`), so
    double-encoded tricks are caught here too.
    """
    if not path.startswith("/") or path.startswith("//") or "\\" in path or "://" in path:
        return False
    if _CONTROL.search(path):
        return False
    segments = path.split("/")
    if ":" in segments[1] or "." in segments or ".." in segments:
        return False
    try:
        path.encode("latin-1")  # what PEP 3333 promises; a caller in-process may not keep it
    except UnicodeEncodeError:
        return False
    return True


def clean_query(query):
    """The query string to append to a Location, or None if it cannot go into a header."""
    if _CONTROL.search(query):
        return None
    try:
        return quote(query.encode("latin-1"), safe=_QUERY_SAFE)
    except UnicodeEncodeError:
        return None


class RedirectApp:
    """The WSGI app: the first rule of the request's site that matches answers."""

    def __init__(self, rules, bases, connections, max_age, schema):
        self.schema = schema
        self.rules = {site: tuple(rule for rule in rules if rule.site == site) for site in SITES}
        self.bases = bases
        self.connections = connections
        self.cache_control = f"public, max-age={max_age}"

    def __call__(self, environ, start_response):
        return send(self.answer(environ), environ, start_response)

    def answer(self, environ):
        path = environ.get("PATH_INFO") or "/"
        if not is_safe_path(path):
            return BAD_PATH
        rule, values = self.match(environ.get("vamo.site"), path)
        if rule is None:
            return NOT_FOUND
        query = ""
        if rule.keep_query and environ.get("QUERY_STRING"):
            query = clean_query(environ["QUERY_STRING"])
            if query is None:
                return BAD_PATH
        looked_up = {}
        if rule.lookup != NO_LOOKUP:
            lookup = LOOKUPS[rule.lookup]
            if self.schema.is_off(lookup.app):
                return NOT_FOUND  # e.g. no personas table (D20)
            try:
                looked_up = lookup.find(self.connections, values)
            except DatabaseError:
                return UNAVAILABLE
            if looked_up is None:
                return NOT_FOUND
        location = rule.expand(self.bases, values, looked_up)
        if query:
            location += ("&" if "?" in location else "?") + query
        status = rule.status
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            status = METHOD_PRESERVING[status]
        headers = [("Location", location)]
        if status in PERMANENT:
            headers.append(("Cache-Control", self.cache_control))
        return Answer(STATUS_LINES[status], headers)

    def match(self, site, path):
        """(rule, path values) of the first matching rule of `site`, or (None, None)."""
        for rule in self.rules.get(SITE_RULES.get(site), ()):
            values = rule.match(path)
            if values is not None:
                return rule, values
        return None, None


def create(context):
    config = context.config
    rules = load_rules(config.redirect_rules, LOOKUPS)
    bases = {name: getattr(config, setting) for name, setting in BASES.items()}
    return Component(app=RedirectApp(rules, bases, context.connections, config.redirect_max_age,
                                     context.schema))
