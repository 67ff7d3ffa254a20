"""The human-readable pages: `/<locale>/<app>/blocked/` and `.../blocked/<i|p><id>`
(docs/blocklist.md, "The pages and the JSON export"), as plain HTML with every value escaped.

Links between the pages are relative (`i12`, `./`), so a page's bytes depend
on the application and the data only, not on the locale in the URL: that
keeps the per-generation memo small whatever locales are asked for. The
text is English, hence `lang="en"`.
"""

import datetime
import html
from typing import NamedTuple

_STYLE = ("body{font-family:sans-serif;max-width:50em;margin:1em auto;padding:0 1em;"
          "line-height:1.5}nav ol{list-style:none;padding:0}nav li{display:inline}"
          "nav li+li::before{content:' / '}dt{font-weight:bold;margin-top:1em}"
          "ul#blocked-items{padding-left:1.2em}")


class Entry(NamedTuple):
    created: datetime.datetime | None
    kind: str    # "i" add-on, "p" plugin
    number: int  # details id
    name: str


def _escape(value):
    return html.escape(str(value), quote=True)


def _multiline(value):
    return "<br>\n".join(_escape(line) for line in str(value).splitlines())


def _date(value):
    if value is None:
        return "an unknown date"
    return f'<time datetime="{value:%Y-%m-%d}">{value:%B} {value.day}, {value.year}</time>'


def _page(title, crumbs, main):
    """The whole document; `crumbs` are (href or None, text) for the breadcrumb trail."""
    trail = "".join(
        f'<li><a href="{_escape(href)}">{_escape(label)}</a></li>' if href else
        f'<li aria-current="page">{_escape(label)}</li>'
        for href, label in crumbs)
    return ("<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            f'<nav aria-label="Breadcrumb"><ol>{trail}</ol></nav>\n'
            f"<main>\n{main}</main>\n</body>\n</html>\n").encode("utf-8")


def list_entries(generation, app_key):
    """What the list shows for an application: each add-on GUID once (under the
    block id its <emItem> carries) and each plugin once, newest first."""
    entries = []
    for group in generation.item_groups(app_key):
        item = generation.item_by_block.get(group.block_id)
        details = generation.details.get(group.block_id)
        if item is not None and details is not None:
            entries.append(Entry(item.created, "i", group.block_id, details.name))
    seen = set()
    for row in generation.plugin_rows(app_key):
        plugin = row.plugin
        details = generation.details.get(plugin.details_id)
        if details is not None and plugin.id not in seen:
            seen.add(plugin.id)
            entries.append(Entry(plugin.created, "p", plugin.details_id, details.name))
    entries.sort(key=lambda e: (e.created or datetime.datetime.min, e.kind, e.number), reverse=True)
    return entries


def render_list(generation, app):
    """The list page for an application (a compat.Application)."""
    entries = list_entries(generation, generation.app_key(app.guid))
    title = f"Blocked add-ons and plugins for {app.pretty}"
    if entries:
        lines = "".join(
            f'<li>{_date(entry.created)}: <a href="{entry.kind}{entry.number}">'
            f"{_escape(entry.name)}</a></li>\n" for entry in entries)
        listing = f'<ul id="blocked-items">\n{lines}</ul>\n'
    else:
        listing = "<p>Nothing is blocked at the moment.</p>\n"
    main = (f"<h1>{_escape(title)}</h1>\n"
            f"<p>The software below is known to cause serious security, stability or "
            f"performance problems in {_escape(app.pretty)}.</p>\n{listing}")
    return _page(title, [(None, "Blocklist")], main)


def _meaning(kind, row, app):
    if kind == "p" and row.severity == 0:
        update = {1: " An update that fixes it is available.",
                  2: " No update that fixes it is available yet."}.get(row.vulnerability, "")
        return (f"This version of the plugin is out of date or vulnerable: {_escape(app.pretty)} "
                f"asks before running it.{update}")
    if row.severity == 1:
        return ("You are strongly advised to disable it. You may keep using it if you accept "
                "the risks described above.")
    return "It is disabled automatically and can no longer be used."


def render_detail(generation, app, kind, number):
    """The page of one block (`kind` "i" or "p", `number` its details id), or None."""
    rows = generation.item_by_block if kind == "i" else generation.plugin_by_block
    row = rows.get(number)
    details = generation.details.get(number)
    if row is None or details is None:
        return None
    what = "add-on" if kind == "i" else "plugin"
    footer = f"Blocked on {_date(row.created)}."
    if (details.bug or "").startswith(("https://", "http://")):  # never a javascript: link
        footer += f' <a href="{_escape(details.bug)}">View the block request</a>.'
    main = (f"<h1><strong>{_escape(details.name)}</strong> has been blocked to protect you</h1>\n"
            f"<p>Block {kind}{number}, {what}.</p>\n"
            "<dl>\n"
            f"<dt>Why was it blocked?</dt>\n<dd>{_multiline(details.why)}</dd>\n"
            f"<dt>Who is affected?</dt>\n<dd>{_multiline(details.who)}</dd>\n"
            f"<dt>What does this mean?</dt>\n<dd><p>{_meaning(kind, row, app)}</p>\n"
            "<p>Mozilla blocks add-ons, plugins and other third-party software that seriously "
            f"harm {_escape(app.pretty)}'s security, stability or performance and meet "
            '<a href="https://wiki.mozilla.org/Blocklisting">the blocking criteria</a>.</p></dd>\n'
            f"</dl>\n<footer><p>{footer}</p></footer>\n")
    return _page(f"{details.name} is blocked", [("./", "Blocklist"), (None, details.name)], main)
