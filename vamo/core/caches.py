"""The two caches of rendered answers, and why there are two.

Both keep answers rendered once and drop them when the rows behind them
change; they differ because their apps learn of changes differently.

- `ResponseCache` (the update check): every answer belongs to one add-on of
  the in-memory index, and the index already knows which add-ons a refresh
  changed, so answers are filed per add-on and an add-on's are dropped
  whole. Only the request thread touches it (the refresher queues keys in a
  deque that requests drain), so the hot path takes no lock. It is bounded by
  requests and by bytes; the oldest add-on goes first.
- `TaggedCache` (the theme check): answers come from one SQL statement per
  uncached request and are built from several tables' rows (the theme, its
  add-on, its translations, a migration), so each answer is filed under tags
  naming those rows, and the refresher drops exactly the answers built from
  the rows it saw change. Requests and the refresher share it under a lock,
  and a generation counter keeps an answer read before a change from landing
  after it. It is bounded by answers and by bytes; the least recently used
  goes first.
"""

import collections
import threading
from collections import OrderedDict

# The answer cache's default size bound (VAMO_CACHE_MB): each cached request
# costs about REQUEST_BYTES (its key and dictionary slot) and the id it names,
# each distinct answer its body and ANSWER_BYTES (the answer's object, headers
# and strings, and the key it is filed under). Measured (the objects' sizes
# over the bench's mix at 20,000 add-ons): with 200/400/100 the cache held
# 1.22-1.25 times its bound, with these 0.96-1.01 times.
CACHE_BYTES = 48 * 1024 * 1024
REQUEST_BYTES = 200
ANSWER_BYTES = 800
# A query string remembered as sent costs its characters and QUERY_BYTES (the
# string's header and its slots in two dictionaries); one longer than
# MAX_QUERY_CHARS is not remembered (Firefox's are about 500).
QUERY_BYTES = 180
MAX_QUERY_CHARS = 2048


class TaggedCache:
    """Answers filed under the tags of the rows they were built from.

    An answer is stored with its tags, such as `("addon", 42)` or `("tr", 7)`;
    `invalidate` drops exactly the answers built from the tags it is given.
    When the cache is full (`size` answers, or `max_bytes` as `weigh` counts
    them), the least recently used answer goes. A lock guards the
    dictionaries, held only for a few dictionary operations, never across a
    query.
    """

    def __init__(self, size, max_bytes=0, weigh=None):
        self.size = size
        self.max_bytes = max_bytes
        self.weigh = weigh or (lambda key, value: 0)
        self.bytes = 0
        self._entries = OrderedDict()  # key -> (value, tags, weight)
        self._keys_by_tag = {}         # tag -> set of keys
        self._lock = threading.Lock()
        # Bumped by every invalidation. A request notes it before its query
        # and stores its answer only if it has not moved since: otherwise an
        # answer read before a change could land after that change had
        # already been invalidated, and would be served until the next one.
        self.generation = 0

    def __len__(self):
        return len(self._entries)

    def get(self, key):
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key, value, tags, generation):
        """Store `value` unless an invalidation happened since `generation` was read."""
        if self.size <= 0:
            return
        with self._lock:
            if generation != self.generation:
                return
            if key in self._entries:
                self._forget(key)
            weight = self.weigh(key, value)
            self._entries[key] = (value, tags, weight)
            self.bytes += weight
            for tag in tags:
                self._keys_by_tag.setdefault(tag, set()).add(key)
            while len(self._entries) > self.size or (self.max_bytes and self.bytes > self.max_bytes):
                self._forget(next(iter(self._entries)))

    def invalidate(self, tags):
        """Drop every answer filed under one of `tags`; returns how many were dropped."""
        dropped = 0
        with self._lock:
            self.generation += 1
            for tag in tags:
                for key in tuple(self._keys_by_tag.get(tag, ())):
                    self._forget(key)
                    dropped += 1
        return dropped

    def clear(self):
        with self._lock:
            self.generation += 1
            self._entries.clear()
            self._keys_by_tag.clear()
            self.bytes = 0

    def _forget(self, key):
        _, tags, weight = self._entries.pop(key)
        self.bytes -= weight
        for tag in tags:
            keys = self._keys_by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._keys_by_tag[tag]


class ResponseCache:
    """Rendered answers by add-on key, then by normalised request; at most
    `max_answers` requests (0: off) and about `max_bytes` in all. The oldest
    cached add-on goes first.

    Requests that get the same answer share it: an add-on's dictionary also
    files each answer under what it was rendered from (rdf, application, the
    offered version's file and range), so many app versions asking about one
    add-on (or an attacker's unique ones) cost a dictionary slot each, not a
    rendered body each.

    `by_query` files each answer once more under the raw query string that
    asked for it, so a repeated request (clients send the same string every
    time) is answered without parsing its query. An add-on's raw query
    strings sit in its dictionary too (as str keys, beside the tuples) and
    leave `by_query` when the add-on's answers are dropped.
    """

    def __init__(self, max_answers, max_bytes=CACHE_BYTES):
        self.max_answers = max_answers
        self.max_bytes = max_bytes
        self.by_addon = {}
        self.by_query = {}  # the raw query string -> its answer
        self.weights = {}  # add-on key -> (requests, bytes) cached for it
        self.count = 0
        self.bytes = 0
        self.changed = collections.deque()  # keys the refresher changed; drained by requests

    def invalidate(self, keys):
        """Called from the refresher thread: only queues the keys."""
        self.changed.extend(keys)

    def drop_changed(self):
        changed, by_addon = self.changed, self.by_addon
        while changed:
            key = changed.popleft()
            if key in by_addon:
                self._drop(key)

    def _drop(self, key):
        by_query = self.by_query
        for request in self.by_addon.pop(key):
            if request.__class__ is str:
                by_query.pop(request, None)
        requests, size = self.weights.pop(key)
        self.count -= requests
        self.bytes -= size

    def remember_query(self, key, query, answer):
        """File `answer` (cached for add-on `key`) under the raw `query` string too."""
        answers = self.by_addon.get(key)
        if answers is None or len(query) > MAX_QUERY_CHARS or query in answers:
            return
        answers[query] = answer
        self.by_query[query] = answer
        requests, size = self.weights[key]
        added = len(query) + QUERY_BYTES
        self.weights[key] = (requests, size + added)
        self.bytes += added
        self._shrink()

    def put(self, key, request, answer_key, answer, query=None):
        """Cache `answer` for `request`, and under `answer_key` unless it is already
        there, and under the raw `query` string when one is given."""
        if not self.max_answers:
            return
        answers = self.by_addon.get(key)
        if answers is None:
            answers = self.by_addon[key] = {}
            self.weights[key] = (0, 0)
        requests, size = self.weights[key]
        added = 0
        if answer_key not in answers:
            answers[answer_key] = answer
            added += len(answer.body) + ANSWER_BYTES
        if request not in answers:
            requests += 1
            self.count += 1
            added += REQUEST_BYTES + len(request[-1])  # its last item: the id as sent (D10)
        answers[request] = answer
        self.weights[key] = (requests, size + added)
        self.bytes += added
        if query is not None:
            self.remember_query(key, query, answer)
        self._shrink()

    def _shrink(self):
        while self.count > self.max_answers or self.bytes > self.max_bytes:
            self._drop(next(iter(self.by_addon)))  # the oldest add-on
