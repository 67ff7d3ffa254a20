"""vamo's dev tools, apart from the runtime: the demo data generator, the
schema install and its two schema files, the throwaway MariaDB of the tests and
the bench, and the two update-check oracles (legacy.py, today.py) that the
differential tests and the bench's baselines share. The service imports from
here only to build its embedded demo database (no VAMO_DATABASE_URL).
"""
