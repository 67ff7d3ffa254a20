"""Keeps the data the apps loaded from the database fresh (D18), off the request path.

One background thread per process, with its own database connection, runs
every `Source` in turn: a full `load` until each has loaded once, then
`refresh` (apply what changed since the last pass) every
VAMO_REFRESH_SECONDS, and a full `load` again every VAMO_RECONCILE_SECONDS to
catch changes that left no timestamp. Sources swap new data in by replacing
references, so requests never wait on the refresher.

While the database is unreachable the last loaded data keeps serving, the
thread retries (backing off from a fraction of a second up to
VAMO_REFRESH_SECONDS, so a change made after the database is back shows as
fast as any other), `/__heartbeat__` reports the failure, and one error per
outage (not one per attempt) goes to Sentry.

A database that stops answering without closing the connection (hung,
overloaded, a network path that drops packets) is bounded too: the ping
and the small queries of a refresh wait VAMO_DB_REFRESH_TIMEOUT for each
answer and run under that statement time limit in the server; only a full
load, one long answer, gets VAMO_DB_READ_TIMEOUT. A refresh pass still
running after VAMO_DB_REFRESH_TIMEOUT already counts as a failure for the
heartbeat.
"""

import contextlib
import datetime
import gc
import logging
import os
import pickle
import random
import sys
import threading
import time

from vamo.core import observe
from vamo.core.db import Database, DatabaseError
from vamo.core.generations import SchemaState

log = logging.getLogger("vamo.refresh")

# The commit-lag window, one for every app that reads changes by `modified`.
# A row's `modified` is stamped when the application writes it, before its
# transaction commits, so a row can become visible after a pass that already
# asked for rows newer than its time; and two edits within one second can
# leave a table's newest `modified` where it was. Each pass therefore asks
# again for the rows this much older than what it has seen (the blocklist:
# reloads while its newest row is this young). A transaction that commits
# later than this waits for the periodic full reconciliation.
COMMIT_LAG = datetime.timedelta(seconds=30)

# Each reconciliation comes up to this share of VAMO_RECONCILE_SECONDS early,
# at random: workers forked together (and nodes deployed together) would
# otherwise reconcile at the same moment, every time, and their replica would
# read the whole catalogue N times at once.
RECONCILE_JITTER = 0.2

MIN_BACKOFF_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 30.0
SWITCH_INTERVAL_SECONDS = 0.0005


@contextlib.contextmanager
def _no_collection_pauses():
    """Keep the cyclic garbage collector out of a full load, then out of its result.

    A load allocates millions of tuples; each full collection it triggers
    walks every object in the process while holding the GIL, which stalled
    requests by 100+ ms (p99) during a reconciliation. The loaded data has no
    reference cycles (reference counting frees it), so it is frozen: later
    collections skip it. Not for a refresh: it allocates little.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.freeze()


class Source:
    """Data loaded from the database. Subclasses implement `load` and `refresh`."""

    name = "data"
    app = None     # the app it serves (vamo.core.generations): off when the database lacks its tables
    loaded = False

    def load(self, db):
        """Load everything (also the periodic reconciliation); set `loaded`."""
        raise NotImplementedError

    def refresh(self, db):
        """Apply what changed in the database since the last load or refresh."""
        raise NotImplementedError

    def built_bytes(self):
        """Bytes of data this source has built in this process since it started,
        replaced ones too; 0 for a source too small to count."""
        return 0

    def changed_bytes(self):
        """Bytes this source holds of what refreshes changed since its last full
        load; 0 for a source too small to count."""
        return 0

    # A source whose load and refreshes leave much behind can be loaded and
    # refreshed in a child process, and the result handed back
    # (Refresher.first_load, refresh_before_fork): it sets `hands_over` and
    # gives `handover` (its loaded state, picklable) and `take_over` (installs
    # it), `mark` (where it stands) and `changes` (what changed since a mark,
    # picklable) and `take_changes` (applies them).
    hands_over = False

    def handover(self):
        raise NotImplementedError

    def take_over(self, state):
        raise NotImplementedError

    def mark(self):
        raise NotImplementedError

    def changes(self, mark):
        raise NotImplementedError

    def take_changes(self, changes):
        raise NotImplementedError


class Refresher:
    def __init__(self, database_url, sources, refresh_seconds=5.0, reconcile_seconds=600.0,
                 connect_timeout=5.0, read_timeout=60.0, stale_seconds=60.0, refresh_timeout=10.0,
                 schema=None):
        self.database_url = database_url
        self.sources = list(sources)
        self.schema = schema or SchemaState()
        self.refresh_seconds = refresh_seconds
        self.reconcile_seconds = reconcile_seconds
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.refresh_timeout = min(refresh_timeout, read_timeout)
        self.stale_seconds = stale_seconds
        self._db = None
        self._stop = threading.Event()
        self._thread = None
        self._next_reconcile = 0.0
        self.backoff = 0.0
        # Health, read by /__heartbeat__: plain attributes replaced as a whole.
        self.last_success = None      # monotonic time of the last pass that reached the database
        self.failing_since = None     # wall-clock time the current outage began
        self.last_error = None        # one-line message of the last failure
        self.passes = 0
        self.refresh_started = None   # monotonic start of the refresh pass under way, if any
        # monotonic time each source last loaded or refreshed: a pass runs the
        # sources one after another, so one can be fresh while the next loads.
        self.source_success = {}
        self.after_pass = None  # called by the thread after each pass (vamo/core/recycle.py)

    # -- one pass ---------------------------------------------------------------------
    def _connect(self):
        if self._db is None:
            self._db = Database(self.database_url, self.connect_timeout, self.read_timeout)
        return self._db

    def check_start(self):
        """Read the database's schema once, before serving (D20).

        A permanent error (no such database, access denied, a missing table
        or column) is raised: retrying cannot mend a configuration error. An
        unreachable server is left to the background passes, which keep
        trying while the heartbeat says so. True when the schema was read.
        """
        try:
            self.schema.of(self._connect())
            return True
        except DatabaseError as error:
            self.disconnect()
            if error.permanent:
                raise
            log.warning("database unreachable at start-up, answering 503 until it answers: %s", error)
            return False

    def first_load(self):
        """The first pass, in the process that forks the workers: the sources
        that hand over load in a forked child, the rest here (then a refresh
        brings the handed-over ones up to this moment). True when it reached
        the database.

        A full load leaves its parent's heap strewn with the free slots of the
        millions of objects it built and dropped. Workers forked from that
        heap allocate into those slots and so copy each page they touch: at
        530,000 add-ons the arbiter held 84 MiB that both workers had copied.
        A child's leftovers go with the child; what it hands back arrives as
        a few large arrays, which nothing writes to (the arbiter's own pages
        went to 19 MiB, the summed PSS of `--workers 2` after 3 minutes from
        555 to 468 MiB). The child briefly doubles the index's memory.
        """
        states = (self._in_child(self._load_handing_over)
                  if any(source.hands_over for source in self.sources) else None)
        if states is not None:
            for source, state in zip(self.sources, states):
                if state is not None:
                    source.take_over(state)
                    self.source_success[source.name] = time.monotonic()
            self._schedule_reconcile()
            gc.freeze()  # what was handed over holds no cycles (see _no_collection_pauses)
        return self.run_once()

    def _load_handing_over(self):
        """In the child: [handed-over state or None, per source]."""
        db = self._connect()
        db.set_timeouts(self.read_timeout)
        self.schema.of(db)
        states = []
        for source in self.sources:
            if not source.hands_over or self.schema.is_off(source.app):
                states.append(None)
                continue
            with _no_collection_pauses():
                source.load(db)
            states.append(source.handover())
        return states

    def refresh_before_fork(self):
        """One pass in the arbiter before it forks a replacement worker: the
        sources that hand over refresh in a forked child, which sends back
        only what changed (Source.changes); the rest here. True when both
        reached the database.

        A pass made here leaves its garbage in the heap the next workers fork
        from, as a load does (see first_load): at 530,000 add-ons, after one
        replacement the arbiter held 60 MiB more that the new workers had
        copied. When the child fails, the arbiter's copy stays as it was and
        the new worker's own first pass brings it up to date.
        """
        handing = [source for source in self.sources if source.hands_over]
        changed = self._in_child(lambda: self._pass_handing_over(handing)) if handing else None
        if changed is not None:
            reached, deltas, next_reconcile = changed
            for source, delta in zip(handing, deltas):
                if delta is not None:
                    source.take_changes(delta)
                    self.source_success[source.name] = time.monotonic()
            self._next_reconcile = next_reconcile
        others = [source for source in self.sources if not source.hands_over]
        here = self.run_once(others)
        self.disconnect()  # a connection must not be shared by forked workers
        return bool(changed and changed[0]) and here

    def _pass_handing_over(self, sources):
        """In the child: (reached the database, [changes or None, per source], next reconciliation)."""
        marks = [source.mark() for source in sources]
        reached = self.run_once(sources)
        deltas = [source.changes(mark) if source.loaded else None for source, mark in zip(sources, marks)]
        return reached, deltas, self._next_reconcile

    def _in_child(self, work):
        """`work()` run in a forked child, its result pickled back; None when it failed."""
        self.disconnect()  # the child opens its own: a connection must not be shared
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: work, hand over, exit without running the parent's exit hooks
            os.close(read_end)
            code = 1
            try:
                result = work()
                with os.fdopen(write_end, "wb") as out:
                    pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
                code = 0
            except BaseException as error:  # the parent goes on without, and reports what fails there
                log.warning("work in a child process failed: %s: %s", type(error).__name__, error)
            finally:
                os._exit(code)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as incoming:
            try:
                result = pickle.load(incoming)
            except Exception as error:  # a child that died mid-way: EOF, or a truncated pickle
                log.warning("no data from the child process (going on without): %s: %s",
                            type(error).__name__, error)
                result = None
        os.waitpid(pid, 0)
        return result

    def _schedule_reconcile(self):
        self._next_reconcile = time.monotonic() + self.reconcile_seconds * (
            1 - RECONCILE_JITTER * random.random())

    def run_once(self, sources=None):
        """One pass over every source (or those given); True when it reached the database."""
        started = time.monotonic()
        reconcile = started >= self._next_reconcile
        full = reconcile or not self.loaded()
        if not full:
            self.refresh_started = started
        try:
            db = self._connect()
            db.set_timeouts(self.refresh_timeout, self.refresh_timeout)
            db.ping()  # the heartbeat reports this round trip, even when no source asks anything
            self.schema.of(db)  # read once (D20): which apps' tables exist
            if full:
                db.set_timeouts(self.read_timeout)  # a load is one long answer
            for source in self.sources if sources is None else sources:
                if self.schema.is_off(source.app):
                    continue  # its app is off: the database has no tables for it
                if reconcile or not source.loaded:
                    with _no_collection_pauses():
                        source.load(db)
                else:
                    source.refresh(db)
                self.source_success[source.name] = time.monotonic()
            if reconcile:
                self._schedule_reconcile()
        except DatabaseError as error:
            self._failed(str(error), None, error)
            return False
        except Exception as error:  # a bug in a source: report it, keep serving
            self._failed(f"{type(error).__name__}: {error}", error)
            return False
        finally:
            self.refresh_started = None
        self._succeeded()
        return True

    def _succeeded(self):
        if self.failing_since is not None:
            log.warning("database reachable again after %.0f s", time.time() - self.failing_since)
        self.last_success = time.monotonic()
        self.failing_since = None
        self.last_error = None
        self.backoff = 0.0
        self.passes += 1

    def _failed(self, message, error, database_error=None):
        self.disconnect()
        first = self.failing_since is None
        self.last_error = message
        self.backoff = min(max(self.backoff * 2, MIN_BACKOFF_SECONDS), self.refresh_seconds,
                           MAX_BACKOFF_SECONDS)
        if first:
            self.failing_since = time.time()
            if error is not None:
                log.error("refresh failed", exc_info=error)
                observe.capture_exception(error)
            else:
                # The message says which: a server that is gone, or one that answered with an error.
                what = "database unreachable" if database_error.unreachable else "database error"
                observe.capture_message(f"{what}, serving the last loaded data: {message}")
        else:
            log.info("refresh still failing (retry in %.0f s): %s", self.backoff, message)

    # -- the thread ---------------------------------------------------------------------
    def start(self):
        # While a full load runs, the serving thread waits for the GIL at most
        # this long at a time (CPython's default, 5 ms, let a reconciliation
        # push p99 past 100 ms). Nothing competes for the GIL otherwise.
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="vamo-refresher", daemon=True)
            self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            ok = self.run_once()
            if self.after_pass is not None:
                self.after_pass()
            self._stop.wait(self.refresh_seconds if ok else self.backoff)

    def built_bytes(self):
        """What the sources have built in this process since it started (Source.built_bytes)."""
        return sum(source.built_bytes() for source in self.sources)

    def changed_bytes(self):
        """What the sources hold of the changes since their full loads (Source.changed_bytes)."""
        return sum(source.changed_bytes() for source in self.sources)

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.disconnect()

    def disconnect(self):
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- health ----------------------------------------------------------------------------
    def loaded(self):
        return all(source.loaded for source in self.sources if not self.schema.is_off(source.app))

    def checks(self):
        """{check name: (ok, detail)} for /__heartbeat__; ok is None for an app that is off."""
        now = time.monotonic()
        refresh_started = self.refresh_started
        if refresh_started is not None and now - refresh_started > self.refresh_timeout:
            database = (False, f"no answer: a refresh pass has waited {now - refresh_started:.0f} s "
                               f"(VAMO_DB_REFRESH_TIMEOUT is {self.refresh_timeout:g} s)")
        elif self.failing_since is not None:
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.failing_since))
            database = (False, f"unreachable since {since}: {self.last_error}")
        elif self.last_success is None:
            database = (False, "not reached yet")
        else:
            database = (True, f"reached {now - self.last_success:.1f} s ago")
        checks = {"database": database}
        schema = self.schema.schema
        for source in self.sources:
            refreshed = self.source_success.get(source.name)
            if self.schema.is_off(source.app):
                checks[source.name] = (None, f"off: {schema.off[source.app]}")
            elif not source.loaded or refreshed is None:
                checks[source.name] = (False, "not loaded yet")
            elif now - refreshed > self.stale_seconds:
                checks[source.name] = (False, f"stale: last refreshed {now - refreshed:.0f} s ago")
            else:
                checks[source.name] = (True, f"refreshed {now - refreshed:.1f} s ago")
        return checks
