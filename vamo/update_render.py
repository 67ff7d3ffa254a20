"""The update check's answers: the JSON update manifest and the RDF (D10, D11).

JSON (Firefox, Firefox for Android):
    {"addons": {ID: {"updates": [UPDATE]}}}, UPDATE with "version",
    "update_link", "applications": {"gecko": {"strict_min_version"[,
    "strict_max_version" only for a strict file]}}, "update_hash" when the
    file has a hash, "update_info_url" when the version has release notes;
    Python's json.dumps defaults (ASCII, ", " and ": " separators). Nothing
    qualifies: an empty "updates" list. Unknown add-on or bad request: {}.

ID is the add-on id exactly as the client sent it (D10): clients look their
entry up by exact key, while GUIDs match case-insensitively.

RDF (Thunderbird 60 and older, SeaMonkey, Mobile), four-space indentation, every value
XML-escaped (& < > "); absent optional elements leave no line:
    <?xml version="1.0"?>
    <RDF:RDF xmlns:RDF="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
             xmlns:em="http://www.mozilla.org/2004/em-rdf#">
        <RDF:Description about="urn:mozilla:TYPE:GUID">
            <em:updates>
                <RDF:Seq>
                    <RDF:li resource="urn:mozilla:TYPE:GUID:VERSION"/>
                </RDF:Seq>
            </em:updates>
        </RDF:Description>

        <RDF:Description about="urn:mozilla:TYPE:GUID:VERSION">
            <em:version>VERSION</em:version>
            <em:targetApplication>
                <RDF:Description>
                    <em:id>APP GUID</em:id>
                    <em:minVersion>MIN</em:minVersion>
                    <em:maxVersion>MAX</em:maxVersion>
                    <em:updateLink>LINK</em:updateLink>
                    <em:updateInfoURL>URL</em:updateInfoURL>
                    <em:updateHash>HASH</em:updateHash>
                </RDF:Description>
            </em:targetApplication>
        </RDF:Description>
    </RDF:RDF>
Nothing qualifies: the first Description with an empty Seq, no second one.
Unknown add-on or bad request: the root element alone.

Links (D11): update_link = VAMO_ADDONS_URL/<addon id>/<file name>[?filehash=<hash>],
update_info_url = VAMO_SITE_URL/%APP_LOCALE%/<app>/addon/<slug>/versions/<version>/updateinfo/
(Firefox replaces %APP_LOCALE%), parts percent-quoted.
"""

from json.encoder import encode_basestring_ascii as _json_string
from urllib.parse import quote

EMPTY_JSON = b"{}"
_RDF_HEAD = ('<?xml version="1.0"?>\n'
             '<RDF:RDF xmlns:RDF="http://www.w3.org/1999/02/22-rdf-syntax-ns#"\n'
             '         xmlns:em="http://www.mozilla.org/2004/em-rdf#">\n')
_RDF_TAIL = "</RDF:RDF>\n"
EMPTY_RDF = (_RDF_HEAD + _RDF_TAIL).encode()


def xml_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


class Renderer:
    def __init__(self, site_url, addons_url):
        self.site_url = site_url
        self.addons_url = addons_url

    def update_link(self, entry, release):
        link = f"{self.addons_url}/{entry.id}/{quote(release.filename)}"
        return f"{link}?filehash={quote(release.hash, safe='')}" if release.hash else link

    def update_info_url(self, app, entry, release):
        return (f"{self.site_url}/%APP_LOCALE%/{app.short}/addon/{quote(entry.slug, safe='')}"
                f"/versions/{quote(release.version, safe='')}/updateinfo/")

    # -- JSON ------------------------------------------------------------------------
    def json(self, entry, app, candidate, guid):
        """The manifest for the add-on the client calls `guid`, offering `candidate`,
        or an empty update list when it is None.

        Written out by hand, each string through the json module's own
        escaping: the same bytes as json.dumps of the nested dicts (the tests
        compare them) at a third of the cost."""
        if candidate is None:
            return b'{"addons": {%s: {"updates": []}}}' % _json_string(guid).encode()
        release = candidate.release
        parts = ['{"addons": {', _json_string(guid), ': {"updates": [{"version": ',
                 _json_string(release.version), ', "update_link": ',
                 _json_string(self.update_link(entry, release)),
                 ', "applications": {"gecko": {"strict_min_version": ',
                 _json_string(candidate.min_version)]
        if release.strict:
            parts += [', "strict_max_version": ', _json_string(candidate.max_version)]
        parts.append("}}")
        if release.hash:
            parts += [', "update_hash": ', _json_string(release.hash)]
        if release.has_notes:
            parts += [', "update_info_url": ', _json_string(self.update_info_url(app, entry, release))]
        parts.append("}]}}}")
        return "".join(parts).encode()

    # -- RDF ---------------------------------------------------------------------------
    def rdf(self, entry, app, candidate, guid):
        """The RDF for the add-on the client calls `guid`, offering `candidate`, or an
        empty update list when it is None."""
        item = xml_escape(f"urn:mozilla:{entry.type_slug}:{guid}")
        lines = [_RDF_HEAD,
                 f'    <RDF:Description about="{item}">\n',
                 "        <em:updates>\n",
                 "            <RDF:Seq>\n"]
        if candidate is None:
            lines += ["            </RDF:Seq>\n", "        </em:updates>\n",
                      "    </RDF:Description>\n", _RDF_TAIL]
            return "".join(lines).encode()
        release = candidate.release
        version = xml_escape(release.version)
        lines += [f'                <RDF:li resource="{item}:{version}"/>\n',
                  "            </RDF:Seq>\n",
                  "        </em:updates>\n",
                  "    </RDF:Description>\n",
                  "\n",
                  f'    <RDF:Description about="{item}:{version}">\n',
                  f"        <em:version>{version}</em:version>\n",
                  "        <em:targetApplication>\n",
                  "            <RDF:Description>\n",
                  f"                <em:id>{xml_escape(app.guid)}</em:id>\n",
                  f"                <em:minVersion>{xml_escape(candidate.min_version)}</em:minVersion>\n",
                  f"                <em:maxVersion>{xml_escape(candidate.max_version)}</em:maxVersion>\n",
                  f"                <em:updateLink>{xml_escape(self.update_link(entry, release))}</em:updateLink>\n"]
        if release.has_notes:
            url = xml_escape(self.update_info_url(app, entry, release))
            lines.append(f"                <em:updateInfoURL>{url}</em:updateInfoURL>\n")
        if release.hash:
            lines.append(f"                <em:updateHash>{xml_escape(release.hash)}</em:updateHash>\n")
        lines += ["            </RDF:Description>\n",
                  "        </em:targetApplication>\n",
                  "    </RDF:Description>\n",
                  _RDF_TAIL]
        return "".join(lines).encode()
