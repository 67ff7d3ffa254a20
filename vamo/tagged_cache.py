"""A bounded cache of rendered answers, each filed under the rows it was built from.

An answer is stored with its tags, such as `("addon", 42)` or `("tr", 7)`,
that name the database rows it was rendered from. The refresher reports the
tags of changed rows, and `invalidate` drops exactly the answers built from
them. When the cache is full (`size` answers, or `max_bytes` as `weigh`
counts them), the least recently used answer goes.

Requests and the refresher thread share it. A lock guards the dictionaries:
it is only ever held for a few dictionary operations, never across a query.
"""

import threading
from collections import OrderedDict


class TaggedCache:
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
