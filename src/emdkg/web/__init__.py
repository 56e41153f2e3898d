"""The web face of emdkg: a SPARQL 1.1 Protocol endpoint, a JSON API and pages for people.

``emdkg serve`` runs :func:`emdkg.web.app.create_app` under uvicorn. The modules:

* :mod:`emdkg.web.sparql`  the protocol: reading a request, refusing what a read-only public
  endpoint must refuse, content negotiation, result serializers;
* :mod:`emdkg.web.runner`  running queries with a time limit, a result-size limit, bounded
  concurrency and a result cache;
* :mod:`emdkg.web.data`    the (bound, parameterised) queries behind the pages;
* :mod:`emdkg.web.figures` the sites x phase heat map, drawn as SVG on the server;
* :mod:`emdkg.web.pages`   the HTML pages and the named-query JSON API;
* :mod:`emdkg.web.app`     the Starlette application factory and its settings.

Nothing is fetched from the internet by a page: the CSS and JavaScript are in ``static/``.
"""

from __future__ import annotations

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> object:
    # Lazy, so that importing emdkg.web.sparql (e.g. from the benchmark) does not import Starlette.
    if name in __all__:
        from emdkg.web import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
