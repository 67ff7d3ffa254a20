"""Serve any WSGI callable the way `vamo serve` serves vamo.

    python -m bench.serve_app vamo.dev.legacy:application
    python -m bench.serve_app bench.ceiling:application

The bench's baselines (the ceiling, the legacy way) must run on the same
server with the same settings as vamo, or the ratios would measure the
server set-up instead of the app; so this goes through
`vamo.core.serve.run_supervised` (gunicorn's arbiter and meinheld workers built
without greenlet, keep-alive, access log off) and reads the same environment
(PORT, VAMO_LISTEN, VAMO_WORKERS, ...).
"""

import importlib
import sys

from vamo.core import observe
from vamo.core.config import ConfigError, load_config
from vamo.core.serve import run_supervised


def load_callable(spec):
    """`package.module:name` -> the object."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise ValueError(f"expected module:callable, got {spec!r}")
    return getattr(importlib.import_module(module_name), name)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m bench.serve_app module:callable", file=sys.stderr)
        return 2
    try:
        config = load_config()
    except ConfigError as error:
        print(f"serve_app: {error}", file=sys.stderr)
        return 2
    observe.setup_logging(config.log_level)
    app = load_callable(argv[0])  # built before listening: ready once the port answers
    return run_supervised(app, config)


if __name__ == "__main__":
    sys.exit(main())
