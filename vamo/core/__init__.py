"""The shared core the services stand on: settings, database, refresher, caches,
HTTP helpers, observability, schema generations, the component contract, and
`vamo serve`'s server and worker. It imports no service and no dev tool (only
the application table of vamo/compat.py, for VAMO_RDF_APPS).
"""
