"""Errors to Sentry, statsd timers, and mozlog JSON log lines.

Sentry (D13): no per-request middleware (it costs ~0.1 ms a request, more
than an update check); `capture_request_error` is called from the one place
that catches a failing request. Events never carry client IPs, cookies,
user agents or forwarding headers; the query string stays, since it is what
reproduces an update-check error.

statsd (D14): one UDP datagram per timed call, fire and forget; with no
STATSD_HOST the app is not wrapped at all, so metrics cost nothing.
"""

import json
import logging
import socket
import sys
import time

import sentry_sdk
from sentry_sdk.integrations.atexit import AtexitIntegration
from sentry_sdk.integrations.dedupe import DedupeIntegration
from sentry_sdk.integrations.excepthook import ExcepthookIntegration
from sentry_sdk.integrations.modules import ModulesIntegration
from sentry_sdk.integrations.threading import ThreadingIntegration

import vamo

log = logging.getLogger("vamo")

# -- version object ------------------------------------------------------------------


def read_version(path):
    """The Dockerflow version object at `path`, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def release_name(version):
    """Sentry release `<version>:<commit[:8]>` from the version object."""
    version = version or {}
    name = str(version.get("version") or vamo.__version__)
    commit = str(version.get("commit") or "")
    return f"{name}:{commit[:8]}" if commit else name


# -- logging -----------------------------------------------------------------------

_SYSLOG_SEVERITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4,
                    logging.INFO: 6, logging.DEBUG: 7}


class MozlogFormatter(logging.Formatter):
    """One JSON object per line in the mozlog shape (Timestamp in ns, Fields one level deep)."""

    def __init__(self, logger_name="vamo"):
        super().__init__()
        self.logger_name = logger_name
        self.hostname = socket.gethostname()

    def format(self, record):
        fields = {"msg": record.getMessage()}
        for key, value in getattr(record, "fields", {}).items():
            fields[key] = value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
        if record.exc_info:
            fields["error"] = repr(record.exc_info[1])
            fields["traceback"] = self.formatException(record.exc_info)
        return json.dumps({
            "Timestamp": int(record.created * 1e9),
            "Type": record.name,
            "Logger": self.logger_name,
            "Hostname": self.hostname,
            "EnvVersion": "2.0",
            "Severity": _SYSLOG_SEVERITY.get(record.levelno, 6),
            "Pid": record.process,
            "Fields": fields,
        }, ensure_ascii=False)


def setup_logging(level="INFO", stream=None):
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(MozlogFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


class AccessLog:
    """meinheld's access logger: one mozlog `request.summary` line per request.

    Only when VAMO_ACCESS_LOG is on. The query string is left out: the set of
    add-on ids a client checks identifies it as well as an IP would.
    """

    def __init__(self):
        self.log = logging.getLogger("request.summary")

    def access(self, environ):
        self.log.info("", extra={"fields": {
            "method": environ.get("REQUEST_METHOD"), "path": environ.get("PATH_INFO"),
            "code": environ.get("STATUS_CODE"), "bytes": environ.get("SEND_BYTES"),
            "t": environ.get("REQUEST_TIME"), "host": environ.get("HTTP_HOST"),
        }})


# -- Sentry ------------------------------------------------------------------------

# Headers that identify a person or reveal a client address: never sent.
_PRIVATE_HEADERS = {"cookie", "user-agent", "x-forwarded-for", "x-real-ip", "forwarded",
                    "authorization", "x-api-key", "via", "true-client-ip", "cf-connecting-ip",
                    "x-client-ip", "client-ip"}


def scrub_event(event, hint=None):
    """before_send: remove IPs, cookies, user agents and forwarding headers from an event."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        env = request.get("env")
        if isinstance(env, dict):
            for key in list(env):
                if key in ("REMOTE_ADDR", "REMOTE_HOST", "REMOTE_PORT"):
                    del env[key]
        headers = request.get("headers")
        if isinstance(headers, dict):
            for key in list(headers):
                if key.lower() in _PRIVATE_HEADERS:
                    del headers[key]
    user = event.get("user")
    if isinstance(user, dict):
        user.pop("ip_address", None)
        if not user:
            event.pop("user", None)
    return event


def setup_sentry(config, version):
    """Start the Sentry client when SENTRY_DSN is set; returns whether it is on."""
    if not config.sentry_dsn:
        return False
    sentry_sdk.init(
        dsn=config.sentry_dsn,
        release=release_name(version),
        environment=config.sentry_environment or None,
        default_integrations=False,
        integrations=[AtexitIntegration(), DedupeIntegration(), ExcepthookIntegration(),
                      ModulesIntegration(), ThreadingIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub_event,
    )
    return True


_SAFE_HEADERS = ("HTTP_HOST", "HTTP_ACCEPT", "HTTP_ACCEPT_ENCODING", "HTTP_ACCEPT_LANGUAGE",
                 "HTTP_IF_NONE_MATCH", "HTTP_CACHE_CONTROL")


def _request_info(environ):
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    headers = {key[5:].replace("_", "-").title(): environ[key] for key in _SAFE_HEADERS if key in environ}
    return {
        "method": environ.get("REQUEST_METHOD", ""),
        "url": f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}",
        "query_string": environ.get("QUERY_STRING", ""),
        "headers": headers,
    }


def capture_request_error(environ, error):
    """Log a failing request and send it to Sentry (if on), without client data."""
    log.error("request failed: %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
              exc_info=error)
    if sentry_sdk.get_client().is_active():
        request = _request_info(environ)
        with sentry_sdk.new_scope() as scope:
            scope.add_event_processor(lambda event, hint: {**event, "request": request})
            sentry_sdk.capture_exception(error)


def capture_exception(error):
    """Send an exception (already logged by the caller) to Sentry, if on."""
    if sentry_sdk.get_client().is_active():
        sentry_sdk.capture_exception(error)


def capture_message(message, level="error", **fields):
    """Send one message to Sentry (if on) and log it."""
    log.log(logging.ERROR if level == "error" else logging.WARNING, message, extra={"fields": fields})
    if sentry_sdk.get_client().is_active():
        with sentry_sdk.new_scope() as scope:
            for key, value in fields.items():
                scope.set_extra(key, value)
            sentry_sdk.capture_message(message, level=level)


# -- statsd --------------------------------------------------------------------------


class Statsd:
    """A fire-and-forget statsd client over UDP."""

    def __init__(self, host, port, prefix=""):
        self.address = (host, port)
        self.prefix = f"{prefix}." if prefix else ""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)

    def timing(self, name, milliseconds):
        try:
            self.sock.sendto(f"{self.prefix}{name}:{milliseconds:.3f}|ms".encode(), self.address)
        except OSError:
            pass  # metrics never fail a request

    def incr(self, name, count=1):
        try:
            self.sock.sendto(f"{self.prefix}{name}:{count}|c".encode(), self.address)
        except OSError:
            pass


def make_statsd(config):
    if not config.statsd_host:
        return None
    return Statsd(config.statsd_host, config.statsd_port, config.statsd_prefix)


def timed(app, name, statsd):
    """Wrap a WSGI app (or a rule's endpoint) in a statsd timer named `name`; the app
    itself without statsd."""
    if statsd is None:
        return app
    clock = time.perf_counter
    timing = statsd.timing

    def timed_app(environ, start_response, **values):
        start = clock()
        try:
            return app(environ, start_response, **values)
        finally:
            timing(name, (clock() - start) * 1000.0)

    return timed_app
