"""Real Firefox ESR and Thunderbird for the end-to-end tests (tests/test_e2e.py).

Each client runs headless in a fresh profile, driven over Marionette in
chrome context. Its proxy prefs point at a dead 127.0.0.1 port with only
127.0.0.1 exempt, so nothing it does leaves the machine; its update URL is
its own default with only scheme and host swapped for vamo's.
"""

import io
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import warnings
import zipfile
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from vamo.dev.devdb import free_port

__all__ = ["Client", "ClientApp", "FIREFOX", "THUNDERBIRD", "FileServer", "make_xpi"]


@dataclass(frozen=True)
class ClientApp:
    name: str  # vamo's short name, also the pytest id
    app_dir: str  # Debian's install folder: the binary and its omni.ja files
    binary: str
    prefs: tuple  # (name, value) pairs this client needs besides the common ones


FIREFOX = ClientApp("firefox", "/usr/lib/firefox-esr", "firefox-esr", (
    ("browser.shell.checkDefaultBrowser", False),
    ("browser.startup.page", 0),
    ("browser.aboutwelcome.enabled", False),
))
THUNDERBIRD = ClientApp("thunderbird", "/usr/lib/thunderbird", "thunderbird", (
    ("mail.provider.suppress_dialog_on_startup", True),  # no account hub window
    ("mail.shell.checkDefaultClient", False),
    ("mailnews.start_page.enabled", False),
))


def _common_prefs(dead_port):
    """Prefs every client gets. The dead proxy catches every host but 127.0.0.1
    (Thunderbird asks its remote-settings server at start whatever the
    override prefs say)."""
    return (
        ("marionette.port", 0),  # any free port, written to <profile>/MarionetteActivePort
        ("xpinstall.signatures.required", False),  # the test's XPIs are unsigned
        ("extensions.update.enabled", True),
        ("extensions.update.autoUpdateDefault", False),  # only the test starts a check
        ("extensions.logging.enabled", True),  # AddonManager's debug lines...
        ("browser.dom.window.dump.enabled", True),  # ...dumped to stdout, kept in the client's log
        ("devtools.console.stdout.chrome", True),
        ("network.proxy.type", 1),
        ("network.proxy.http", "127.0.0.1"),
        ("network.proxy.http_port", dead_port),
        ("network.proxy.ssl", "127.0.0.1"),
        ("network.proxy.ssl_port", dead_port),
        ("network.proxy.socks", "127.0.0.1"),
        ("network.proxy.socks_port", dead_port),
        ("network.proxy.socks_remote_dns", True),
        ("network.proxy.no_proxies_on", "127.0.0.1"),
        ("network.proxy.allow_hijacking_localhost", False),
        ("network.trr.mode", 5),  # no DNS over HTTPS
        ("network.dns.disablePrefetch", True),
        ("datareporting.policy.dataSubmissionEnabled", False),
        ("toolkit.telemetry.enabled", False),
    )


_PREF_RE = r'pref\(\s*"{name}"\s*,\s*"([^"]*)"'


def default_pref(app, name):
    """A string pref's default as the client ships it, read from its omni.ja files."""
    pattern = re.compile(_PREF_RE.format(name=re.escape(name)))
    for folder, _, files in os.walk(app.app_dir):
        for filename in files:
            if filename != "omni.ja":
                continue
            with zipfile.ZipFile(os.path.join(folder, filename)) as jar:
                for member in jar.namelist():
                    if member.startswith("defaults/") and member.endswith(".js"):
                        found = pattern.search(jar.read(member).decode("utf-8", "replace"))
                        if found:
                            return found.group(1)
    raise LookupError(f"{name} not found in the omni.ja files under {app.app_dir}")


def swap_origin(url, origin):
    """`url` with scheme and host replaced by `origin`; path and query as shipped."""
    return re.sub(r"^[a-z]+://[^/]+", origin, url)


def make_xpi(guid, version, name="vamo e2e"):
    """The bytes of a minimal WebExtension: an id, a version, no update_url."""
    manifest = {
        "manifest_version": 2,
        "name": name,
        "version": version,
        "browser_specific_settings": {"gecko": {"id": guid}},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as xpi:
        xpi.writestr("manifest.json", json.dumps(manifest, indent=2))
    return buffer.getvalue()


def _js_value(value):
    return json.dumps(value)


# Chrome-context scripts. Each returns a promise, which Marionette awaits.
_CHECK_AND_INSTALL = """
const [id] = arguments;
const { AddonManager } = ChromeUtils.importESModule("resource://gre/modules/AddonManager.sys.mjs");
// Install errors and update-check statuses share numbers, so each is named from its own list.
const INSTALL_ERRORS = ["ERROR_NETWORK_FAILURE", "ERROR_INCORRECT_HASH", "ERROR_CORRUPT_FILE",
  "ERROR_FILE_ACCESS", "ERROR_SIGNEDSTATE_REQUIRED", "ERROR_INCORRECT_ID",
  "ERROR_UNEXPECTED_ADDON_VERSION", "ERROR_INCOMPATIBLE"];
const UPDATE_STATUSES = Object.keys(AddonManager).filter(key => key.startsWith("UPDATE_STATUS_"));
const named = (names, value) => names.find(key => AddonManager[key] === value) || String(value);
return (async () => {
  const addon = await AddonManager.getAddonByID(id);
  if (!addon) {
    return {error: "not installed"};
  }
  const result = {before: addon.version, events: []};
  const install = await new Promise(resolve => {
    let found = null;
    addon.findUpdates({
      onUpdateAvailable(_, available) {
        result.events.push("update available: " + available.version);
        found = available;
      },
      onNoUpdateAvailable() {
        result.events.push("no update available");
      },
      onUpdateFinished(_, status) {
        result.events.push("update check finished: " + named(UPDATE_STATUSES, status));
        result.status = named(UPDATE_STATUSES, status);
        resolve(found);
      },
    }, AddonManager.UPDATE_WHEN_USER_REQUESTED);
  });
  if (install) {
    result.offered = install.version;
    await new Promise(resolve => {
      install.addListener({
        onDownloadFailed(failed) {
          result.events.push("download failed: " + named(INSTALL_ERRORS, failed.error));
          result.installError = named(INSTALL_ERRORS, failed.error);
          resolve();
        },
        onInstallFailed(failed) {
          result.events.push("install failed: " + named(INSTALL_ERRORS, failed.error));
          result.installError = named(INSTALL_ERRORS, failed.error);
          resolve();
        },
        onDownloadCancelled() { result.events.push("download cancelled"); resolve(); },
        onInstallCancelled() { result.events.push("install cancelled"); resolve(); },
        onInstallEnded(_, installed) {
          result.events.push("installed: " + installed.version);
          resolve();
        },
      });
      install.install().catch(() => {});  // failures arrive through the listener
    });
  }
  const after = await AddonManager.getAddonByID(id);
  result.after = after && after.version;
  result.active = Boolean(after && after.isActive);
  return result;
})();
"""

_ADDON_STATE = """
const [id] = arguments;
const { AddonManager } = ChromeUtils.importESModule("resource://gre/modules/AddonManager.sys.mjs");
return AddonManager.getAddonByID(id).then(addon => addon && {
  version: addon.version, active: addon.isActive, temporary: addon.temporarilyInstalled,
  updateURL: addon.updateURL,
});
"""

# Every HTTP request the client makes, with its answer's status: the
# diagnostics name the exact update request the client sent.
_RECORD_REQUESTS = """
if (!Services.vamoE2eRequests) {
  const seen = [];
  const observe = (subject, topic) => {
    const channel = subject.QueryInterface(Ci.nsIHttpChannel);
    let line = channel.requestMethod + " " + channel.URI.spec;
    if (topic !== "http-on-modify-request") {
      line += " -> " + channel.responseStatus;
      try { line += " " + channel.getResponseHeader("Content-Type"); } catch (e) {}
    }
    seen.push(line);
  };
  for (const topic of ["http-on-modify-request", "http-on-examine-response",
                       "http-on-examine-cached-response"]) {
    Services.obs.addObserver(observe, topic);
  }
  Services.vamoE2eRequests = seen;
}
return true;
"""

_READ_REQUESTS = """
return Services.vamoE2eRequests || [];
"""

# AddonManager's debug lines (extensions.logging.enabled) go to the console.
_READ_CONSOLE = """
return Services.console.getMessageArray().map(message => message.message || String(message));
"""

_RESOLVE_PROXY = """
const [url] = arguments;
const { NetUtil } = ChromeUtils.importESModule("resource://gre/modules/NetUtil.sys.mjs");
const channel = NetUtil.newChannel({uri: url, loadUsingSystemPrincipal: true});
const service = Cc["@mozilla.org/network/protocol-proxy-service;1"].getService(Ci.nsIProtocolProxyService);
return new Promise(resolve => service.asyncResolve(channel, 0, {
  onProxyAvailable(request, _, info) {
    resolve(info ? info.host + ":" + info.port : null);
  },
}));
"""


def _marionette_class():
    """marionette-driver (the e2e extra), imported only by the e2e tests.

    Its dependencies (mozinfo, mozrunner) use deprecated modules at import
    time; the suite turns warnings into errors, so those are let through here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from marionette_driver.marionette import Marionette
    return Marionette


class Client:
    """One running client: start(), install(), check_and_install(), stop()."""

    def __init__(self, app, work_dir):
        self.app = app
        self.dir = tempfile.mkdtemp(prefix=f"{app.name}-", dir=str(work_dir))
        self.profile = os.path.join(self.dir, "profile")
        os.makedirs(self.profile)
        self.log_path = os.path.join(self.dir, "client.log")
        self.dead_port = free_port()  # nothing listens there: the proxy that goes nowhere
        self.process = None
        self.marionette = None
        self._log = None
        self.prefs = {}

    # -- life cycle ---------------------------------------------------------------------
    def write_prefs(self, extra=()):
        prefs = _common_prefs(self.dead_port) + self.app.prefs + tuple(extra)
        self.prefs = dict(prefs)
        with open(os.path.join(self.profile, "user.js"), "w") as user_js:
            for name, value in prefs:
                user_js.write(f"user_pref({_js_value(name)}, {_js_value(value)});\n")

    def start(self, update_origin, timeout=90):
        """Start headless with the update URLs on `update_origin` (scheme://host:port)."""
        Marionette = _marionette_class()
        self.update_urls = {
            name: swap_origin(default_pref(self.app, name), update_origin)
            for name in ("extensions.update.url", "extensions.update.background.url")
        }
        self.write_prefs(self.update_urls.items())
        env = dict(os.environ, MOZ_HEADLESS="1", MOZ_CRASHREPORTER_DISABLE="1",
                   HOME=self.dir, TMPDIR=self.dir)
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        command = [os.path.join(self.app.app_dir, self.app.binary), "-headless", "-no-remote",
                   "-marionette", "-remote-allow-system-access", "-profile", self.profile]
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        port = self._wait_for_port(timeout)
        self.marionette = Marionette(host="127.0.0.1", port=port, startup_timeout=timeout,
                                     socket_timeout=timeout)
        self.marionette.start_session(timeout=timeout)
        self.marionette.set_context(self.marionette.CONTEXT_CHROME)
        self.marionette.timeout.script = timeout
        self.run(_RECORD_REQUESTS)
        return self

    def _wait_for_port(self, timeout):
        port_file = os.path.join(self.profile, "MarionetteActivePort")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.app.name} exited with {self.process.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                with open(port_file) as handle:
                    text = handle.read().strip()
                if text:
                    return int(text)
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.app.name}: no Marionette port within {timeout} s:\n{self.log_tail()}")

    def stop(self):
        if self.marionette is not None:
            try:
                self.marionette.cleanup()  # ends the session; the process is ours to stop
            except Exception:  # the client may be gone already; it is killed below anyway
                pass
            self.marionette = None
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                pass
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # content processes left behind
            except ProcessLookupError:
                pass
            self.process.wait(15)
        if self._log:
            self._log.close()
            self._log = None

    # -- driving ------------------------------------------------------------------------
    def run(self, script, *args):
        return self.marionette.execute_script(script, script_args=list(args))

    def pref(self, name):
        return self.marionette.get_pref(name)

    def install(self, xpi_path):
        """Install permanently (temporary add-ons are never update-checked); returns the id."""
        from marionette_driver.addons import Addons

        return Addons(self.marionette).install(xpi_path, temp=False)

    def addon(self, guid):
        return self.run(_ADDON_STATE, guid)

    def check_and_install(self, guid):
        """findUpdates() as a user's "Check for updates" does, and install what is offered.

        Returns {before, after, offered, status, installError, events}."""
        return self.run(_CHECK_AND_INSTALL, guid)

    # -- diagnostics --------------------------------------------------------------------
    def console_lines(self, *needles):
        """The client's own console messages that contain any of `needles`."""
        try:
            messages = self.run(_READ_CONSOLE)
        except Exception as error:  # diagnostics must not hide the failure they describe
            return [f"(console not readable: {error})"]
        return [line for line in messages if any(needle in line for needle in needles)]

    def requests(self):
        """Every HTTP request the client made, "METHOD URL[ -> status type]"."""
        return self.run(_READ_REQUESTS)

    def proxy_for(self, url):
        """The proxy the client would use for `url`: "host:port", or None for a direct connection."""
        return self.run(_RESOLVE_PROXY, url)

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return ""


class FileServer:
    """Serves a folder on 127.0.0.1 (the XPIs behind vamo's links) and keeps the request lines."""

    def __init__(self, folder):
        self.dir = str(folder)
        self.requests = []
        recorder = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=recorder.dir, **kwargs)

            def log_message(self, format, *args):
                recorder.requests.append(format % args)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
