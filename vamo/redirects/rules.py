"""The redirect rules table (D17): its file format, checked and compiled at start-up.

A rules file is plain text, one rule a line, six columns separated by spaces
(`#` starts a comment):

    site  path  status  query  lookup  target

`redirects.rules` beside this module is the table vamo ships; its header
explains each column to an operator. `load_rules` reads a file and checks
every rule; a bad rule raises ConfigError with one line naming the file, the
line and the reason, so the process refuses to start.

Paths are matched against the WSGI `PATH_INFO`, a latin-1 string of the
request's decoded bytes. Values taken from it are percent-encoded from those
same bytes when they go into a target; values a lookup gives (text from the
database) are encoded as UTF-8.
"""

import re
from importlib import resources
from typing import Callable, NamedTuple
from urllib.parse import quote

from vamo.compat import APPLICATIONS
from vamo.core.config import ConfigError

SITES = ("amo", "services", "getpersonas")
# The base URLs a target may start with, and the settings that give them.
BASES = {"site": "site_url", "vamo": "vamo_url", "pfs": "pfs_url"}  # VAMO_SITE_URL, VAMO_URL, VAMO_PFS_URL
STATUSES = (301, 302, 307, 308)
PERMANENT = frozenset((301, 308))
# Any method but GET and HEAD gets the code that keeps the method and body.
METHOD_PRESERVING = {301: 308, 302: 307, 307: 307, 308: 308}
QUERY_MODES = {"keep": True, "drop": False}
NO_LOOKUP = "-"

# What each kind of <placeholder> matches in a path.
KINDS = {
    "int": "[0-9]{1,10}",
    "locale": "[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,2}",
    "app": "(?:%s)" % "|".join(app.short for app in APPLICATIONS),
    "segment": "[^/]+",
    "path": ".*",
}
INT_MAX = 2**32 - 1  # AMO's ids are unsigned int columns: larger numbers match nothing

# Characters left as they are in a target: RFC 3986 path characters, plus
# "/" for values of kind `path` (the rest of a path, slashes included).
_SEGMENT_SAFE = "!$&'()*+,;=:@"
_PATH_SAFE = "/" + _SEGMENT_SAFE

_NAME = r"[a-z_][a-z0-9_]*"
_PATTERN_TOKEN = re.compile(rf"<(?:({_NAME}):)?({_NAME})>|\[|\]|[^<>\[\]]+|.")
_TARGET_TOKEN = re.compile(rf"\{{(/?)({_NAME})\}}|[^{{}}]+|.")
_PLAIN_TEXT = re.compile(r"[!-~]*")  # printable ASCII, no space


class Lookup(NamedTuple):
    """A database lookup a rule may ask for: it needs path values and gives target values."""
    needs: tuple
    gives: tuple
    find: Callable  # find(connections, path_values) -> dict of `gives`, or None: 404
    app: str = None  # the app whose tables it reads: its rules are 404 while that app is off


class Rule(NamedTuple):
    site: str
    regex: re.Pattern
    kinds: dict        # placeholder name -> kind
    status: int        # for GET and HEAD
    keep_query: bool
    lookup: str        # a key of the lookups, or NO_LOOKUP
    target: tuple      # parts (type, text or name), type "text", "base", "value" or "optional"

    def match(self, path):
        """The path's values if this rule matches it (absent optional parts: None), else None."""
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        values = found.groupdict()
        for name, kind in self.kinds.items():
            if kind == "int" and values[name] is not None:
                number = int(values[name])
                if number > INT_MAX:
                    return None
                values[name] = number
        return values

    def expand(self, bases, path_values, looked_up):
        """The target URL, every value percent-encoded."""
        out = []
        for part, item in self.target:
            if part == "text":
                out.append(item)
            elif part == "base":
                out.append(bases[item])
            elif item in looked_up:  # lookup values never share a name with path values
                out.append(quote(looked_up[item], safe=""))
            else:
                value = path_values[item]
                if value is None:  # {/name} of an absent optional part
                    continue
                if part == "optional":
                    out.append("/")
                out.append(self._encode(item, value))
        return "".join(out)

    def _encode(self, name, value):
        if isinstance(value, int):
            return str(value)
        safe = _PATH_SAFE if self.kinds[name] == "path" else _SEGMENT_SAFE
        return quote(value.encode("latin-1"), safe=safe)


class _RuleError(Exception):
    pass


def read_rules(path):
    """(text, name for messages) of the rules file at `path`; empty: the table vamo ships."""
    if not path:
        return resources.files("vamo.redirects").joinpath("redirects.rules").read_text(), "redirects.rules"
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read(), path
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"VAMO_REDIRECT_RULES: cannot read {path}: {error}") from None


def load_rules(path, lookups):
    """The checked rules of the file at `path` (empty: the table vamo ships)."""
    return parse_rules(*read_rules(path), lookups)


def _rule_lines(text):
    """(line number, columns) of each line of `text` that is not blank or a comment."""
    for number, line in enumerate(text.splitlines(), 1):
        columns = line.split("#", 1)[0].split()
        if columns:
            yield number, columns


def rules_markdown(text):
    """The rules of `text`, already checked, as a Markdown table (docs/configuration.md's)."""
    lines = ["| Site | Path | Status | Query | Lookup | Target |", "|---|---|---|---|---|---|"]
    for _, columns in _rule_lines(text):
        site, path, status, query, lookup, target = (c.replace("|", "\\|") for c in columns)
        lines.append(f"| {site} | `{path}` | {status} | {query} | {lookup} | `{target}` |")
    return "\n".join(lines)


def parse_rules(text, source, lookups):
    """Check and compile every rule of `text`; ConfigError names the first bad line."""
    rules = []
    for number, columns in _rule_lines(text):
        try:
            rules.append(_parse_rule(columns, lookups))
        except _RuleError as error:
            raise ConfigError(f"{source}, line {number}: {error}") from None
    return rules


def _parse_rule(columns, lookups):
    if len(columns) != 6:
        raise _RuleError(f"expected 6 columns (site path status query lookup target), "
                         f"got {len(columns)}")
    site, path, status, query, lookup, target = columns
    if site not in SITES:
        raise _RuleError(f"unknown site {site!r} (known: {', '.join(SITES)})")
    regex, kinds, optional = _compile_path(path)
    if not status.isdigit() or int(status) not in STATUSES:
        raise _RuleError(f"status must be one of {', '.join(map(str, STATUSES))}, got {status!r}")
    if query not in QUERY_MODES:
        raise _RuleError(f"query must be keep or drop, got {query!r}")
    if lookup != NO_LOOKUP and lookup not in lookups:
        raise _RuleError(f"unknown lookup {lookup!r} (known: -, {', '.join(lookups)})")
    gives = ()
    if lookup != NO_LOOKUP:
        gives = lookups[lookup].gives
        clash = set(gives) & set(kinds)
        if clash:
            raise _RuleError(f"<{min(clash)}> of the path has the name of a value of lookup {lookup}")
        for name in lookups[lookup].needs:
            if name not in kinds or name in optional or kinds[name] != "int":
                raise _RuleError(f"lookup {lookup} needs <int:{name}> in the path, not optional")
    parts = _compile_target(target, set(kinds) - optional, optional, set(gives))
    return Rule(site, regex, kinds, int(status), QUERY_MODES[query], lookup, parts)


def _compile_path(pattern):
    """(regex, {name: kind}, names inside optional parts) of a path pattern."""
    if not pattern.startswith(("/", "[/")):
        raise _RuleError(f"path must start with / (or an optional part [/...]), got {pattern!r}")
    pieces, kinds, optional, depth = [], {}, set(), 0
    for token in _PATTERN_TOKEN.finditer(pattern):
        kind, name = token.group(1), token.group(2)
        text = token.group(0)
        if name:
            kind = kind or name
            if kind not in KINDS:
                raise _RuleError(f"unknown kind <{kind}:...> (known: {', '.join(KINDS)})")
            if name in kinds:
                raise _RuleError(f"<{name}> appears twice in the path")
            kinds[name] = kind
            if depth:
                optional.add(name)
            pieces.append(f"(?P<{name}>{KINDS[kind]})")
        elif text == "[":
            depth += 1
            pieces.append("(?:")
        elif text == "]":
            depth -= 1
            if depth < 0:
                raise _RuleError("] without [ in the path")
            pieces.append(")?")
        elif text in "<>" or not _PLAIN_TEXT.fullmatch(text):
            raise _RuleError(f"bad text {text!r} in the path (placeholders are <kind:name>)")
        else:
            pieces.append(re.escape(text))
    if depth:
        raise _RuleError("[ without ] in the path")
    return re.compile("".join(pieces)), kinds, optional


def _compile_target(target, always, optional, gives):
    """The parts of a target template; it must start on a configured base URL."""
    parts = []
    for token in _TARGET_TOKEN.finditer(target):
        slash, name, text = token.group(1), token.group(2), token.group(0)
        if not name:
            if text in "{}" or not _PLAIN_TEXT.fullmatch(text) or "#" in text:
                raise _RuleError(f"bad text {text!r} in the target (values are {{name}})")
            parts.append(("text", text))
        elif not parts and name in BASES and not slash:
            parts.append(("base", name))
        elif name in BASES:
            raise _RuleError(f"{{{name}}} can only start the target")
        elif slash:
            if name not in always and name not in optional:
                raise _RuleError(f"{{/{name}}} is not a value of the path")
            parts.append(("optional", name))
        elif name in always or name in gives:
            parts.append(("value", name))
        elif name in optional:
            raise _RuleError(f"<{name}> is in an optional part of the path: use {{/{name}}}")
        else:
            raise _RuleError(f"{{{name}}} is neither a value of the path nor of the lookup")
    if not parts or parts[0][0] != "base":
        raise _RuleError(f"target must start with {{site}}, {{vamo}} or {{pfs}}, got {target!r}")
    # What follows the base must not be able to change the host: a path or a query.
    if len(parts) > 1 and not (parts[1][0] == "optional" or parts[1][1].startswith(("/", "?"))):
        raise _RuleError("the base URL must be followed by /, ? or {/name}")
    return tuple(parts)
