"""Progress lines on stderr (the table and the results go to stdout)."""

import sys
import time


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
