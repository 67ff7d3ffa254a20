"""The entry point for WSGI servers other than `vamo serve`: `wsgi:application`.

The service is built on first use, in the process that serves: load it
without preloading, since the refresher is a thread (`vamo.app` has the rest).
"""

from vamo.app import create_app

_application = None


def __getattr__(name):
    global _application
    if name == "application":
        if _application is None:
            _application = create_app().start()
        return _application
    raise AttributeError(name)
