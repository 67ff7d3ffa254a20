"""When a worker's cyclic garbage collector runs: between requests, in small steps.

CPython 3.11 starts a collection when the container objects allocated,
less those freed, pass a threshold. A worker whose answer cache is full
frees a cached answer for each one it adds, so that count stays flat while
the young generations keep every new answer; when a collection does start,
it walks all of them with the GIL held. At 530,000 add-ons with the cache
on, that paused requests for 20 to 100 ms (bench/RESULTS.md, "The cache-on
tail at 530k").

So a serving worker collects every COLLECT_EVERY requests itself, before
the next request starts, and then freezes what survived (gc.freeze): each
collection walks only what the last COLLECT_EVERY requests kept, a few
thousand objects at most. Between two requests no request holds anything,
so nothing still in use that could later become a cycle's garbage is
frozen: the cycles requests make (werkzeug's URL matcher makes one per
match) are garbage by then, and freed here. The update check makes none
(tests/test_collector.py).
"""

import gc
import math

COLLECT_EVERY = 1000


class Collector:
    """Counts requests; off (never collects) until `start`."""

    def __init__(self):
        self.requests = 0
        self.every = math.inf

    def start(self, every=COLLECT_EVERY):
        self.every = every
        return self

    def collect(self):
        """Between two requests: free the cycles of the last ones, freeze what they kept."""
        self.requests = 0
        gc.collect()
        gc.freeze()
