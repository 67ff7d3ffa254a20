"""The `vamo` command: serve, init-db, demo, settings, redirects."""

import argparse
import sys

from vamo.core.config import ConfigError, load_config, settings_markdown
from vamo.core.db import Database, DatabaseError


def _database_url(args, config):
    url = args.database_url or config.database_url
    if not url:
        raise ConfigError("no database: pass --database-url or set VAMO_DATABASE_URL")
    return url


def cmd_serve(args, config):
    changes = {}
    if args.workers is not None:
        changes["workers"] = args.workers
    if args.port is not None:
        changes["port"] = args.port
    if args.listen is not None:
        changes["listen"] = args.listen
    if args.access_log:
        changes["access_log"] = True
    config = config.replace(**changes)
    from vamo.core.serve import serve
    from vamo.app import create_app

    service = create_app(config)
    try:
        service.refresher.check_start()
    except DatabaseError as error:  # permanent: no such database, access denied, a missing table
        raise ConfigError(f"VAMO_DATABASE_URL: {error}") from None
    return serve(service, config)


def cmd_init_db(args, config):
    from vamo.dev.schema import install_schema

    db = Database(_database_url(args, config), config.db_connect_timeout, config.db_read_timeout)
    try:
        install_schema(db, drop=args.drop, generation=args.generation)
    finally:
        db.close()
    print(f"{args.generation} schema installed in {db.url.safe()}")
    return 0


def cmd_demo(args, config):
    from vamo.dev import demo

    db = Database(_database_url(args, config), config.db_connect_timeout, config.db_read_timeout)
    try:
        counts = demo.generate(db, addons=args.addons, seed=args.seed, shape=args.shape,
                               reset=args.reset, generation=args.generation)
    finally:
        db.close()
    print(f"demo data written to {db.url.safe()}: " +
          ", ".join(f"{table} {count}" for table, count in counts.items() if count))
    return 0


def cmd_settings(args, config):
    print(settings_markdown())
    return 0


def cmd_redirects(args, config):
    from vamo.redirects.app import LOOKUPS
    from vamo.redirects.rules import parse_rules, read_rules, rules_markdown

    text, source = read_rules(config.redirect_rules)
    parse_rules(text, source, LOOKUPS)  # a bad rule stops here, as it stops `vamo serve`
    print(rules_markdown(text))
    return 0


_GENERATION_ARGUMENT = dict(
    default="classic", choices=("classic", "current"),
    help="AMO's schema generation: classic (2015-2021, addons.thunderbird.net) or current "
         "(AMO since 2021); default classic")


def build_parser():
    parser = argparse.ArgumentParser(prog="vamo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve HTTP (settings from the environment)")
    serve.add_argument("--workers", type=int, help="processes (default VAMO_WORKERS)")
    serve.add_argument("--port", type=int, help="port (default PORT)")
    serve.add_argument("--listen", help="address (default VAMO_LISTEN)")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(run=cmd_serve)

    init_db = commands.add_parser("init-db", help="create vamo's tables")
    init_db.add_argument("--database-url", help="default VAMO_DATABASE_URL")
    init_db.add_argument("--drop", action="store_true", help="drop the tables first")
    init_db.add_argument("--generation", **_GENERATION_ARGUMENT)
    init_db.set_defaults(run=cmd_init_db)

    demo = commands.add_parser("demo", help="write generated AMO-shaped data")
    demo.add_argument("--database-url", help="default VAMO_DATABASE_URL")
    demo.add_argument("--addons", type=int, default=1000, help="number of add-ons (default 1000)")
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.add_argument("--shape", default="realistic", choices=("realistic", "edge", "today"),
                      help="realistic data, more of the odd cases, or today's AMO (93 %% static themes)")
    demo.add_argument("--reset", action="store_true", help="drop vamo's tables first")
    demo.add_argument("--generation", **_GENERATION_ARGUMENT)
    demo.set_defaults(run=cmd_demo)

    settings = commands.add_parser("settings", help="print every setting as a Markdown table")
    settings.set_defaults(run=cmd_settings)

    redirects = commands.add_parser(
        "redirects", help="check the redirect rules (VAMO_REDIRECT_RULES) and print them as a table")
    redirects.set_defaults(run=cmd_redirects)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        config = load_config()
        if getattr(args, "workers", None) is not None and args.workers < 1:
            raise ConfigError("--workers: expected a number >= 1")
        return args.run(args, config)
    except (ConfigError, DatabaseError, ValueError, OSError) as error:
        print(f"vamo: {error}", file=sys.stderr)
        return 2 if isinstance(error, ConfigError) else 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
