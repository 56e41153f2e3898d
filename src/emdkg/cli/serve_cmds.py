"""``emdkg serve``: the SPARQL endpoint and the web pages over HTTP (Starlette under uvicorn)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from emdkg.cli.options import data_option
from emdkg.errors import EmdkgError

__all__ = ["serve"]


def _positive(kind: type, minimum: float) -> click.ParamType:
    return click.IntRange(min=int(minimum)) if kind is int else click.FloatRange(min=minimum, min_open=True)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback exposes the server to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port (0: any free port).")
@click.option("--endpoint", metavar="URL", default=None,
              help="Serve a remote SPARQL endpoint instead of the embedded store.")
@click.option("--query-timeout", type=_positive(float, 0), default=10.0, show_default=True, metavar="S",
              help="Seconds a query may run before it is answered 503 (timeout).")
@click.option("--max-results", type=_positive(int, 1), default=10_000, show_default=True, metavar="N",
              help="Rows or triples above which a query is refused (422), never truncated.")
@click.option("--max-body", type=_positive(int, 1), default=1_000_000, show_default=True, metavar="BYTES",
              help="Largest request body or query string accepted (413 above).")
@click.option("--allow-service", is_flag=True, default=False,
              help="Allow SERVICE (federated queries: the server then fetches from other hosts).")
@click.option("--max-concurrent", type=_positive(int, 1), default=4, show_default=True, metavar="N",
              help="Queries evaluated at the same time.")
@click.option("--cache-entries", type=click.IntRange(min=0), default=512, show_default=True, metavar="N",
              help="Answers kept in memory (the data is read-only); 0 turns the cache off.")
@click.option("--workers", type=_positive(int, 1), default=1, show_default=True, metavar="N",
              help="Server processes (each loads the knowledge graph).")
@click.option("--no-bundled", is_flag=True, default=False, help="Serve only the --data files, not the bundled graph.")
@data_option
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info",
              show_default=True, help="uvicorn's log level.")
def serve(
    host: str,
    port: int,
    endpoint: str | None,
    query_timeout: float,
    max_results: int,
    max_body: int,
    allow_service: bool,
    max_concurrent: int,
    cache_entries: int,
    workers: int,
    no_bundled: bool,
    data: tuple[Path, ...],
    log_level: str,
) -> None:
    """Serve the knowledge graph over HTTP: pages, /sparql and /api.

    \b
    http://HOST:PORT/             questions, search, entity pages, source errors
    http://HOST:PORT/query        a SPARQL editor
    http://HOST:PORT/sparql       SPARQL 1.1 Protocol endpoint (read-only)
    http://HOST:PORT/api/queries  the named queries as JSON
    """
    import uvicorn

    from emdkg.web.app import SETTINGS_ENV, Settings, create_app, load_knowledge_graph

    if endpoint and data:
        raise EmdkgError("--data and --endpoint do not go together: the remote endpoint serves its own data")
    settings = Settings(
        host=host,
        port=port,
        endpoint=endpoint,
        query_timeout=query_timeout,
        max_results=max_results,
        max_body=max_body,
        allow_service=allow_service,
        max_concurrent=max_concurrent,
        cache_entries=cache_entries,
        workers=workers,
        data=tuple(str(p) for p in data),
        bundled=not no_bundled,
    )
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"emdkg serve: listening on {host}: the server is reachable from other machines", err=True)
    # Load before listening: a bad --data file is a one-line error, not a failed worker.
    kg = load_knowledge_graph(settings)
    options = dict(
        host=host,
        port=port,
        log_level=log_level,
        access_log=log_level in ("info", "debug"),
        server_header=False,
        limit_concurrency=1000,
        timeout_keep_alive=5,
        # Bodies are bounded by the app (--max-body); uvicorn bounds headers.
        h11_max_incomplete_event_size=max(64 * 1024, min(max_body + 16 * 1024, 4 * 1024 * 1024)),
    )
    if workers > 1:
        os.environ[SETTINGS_ENV] = settings.to_env()
        del kg
        uvicorn.run("emdkg.web.app:create_app_from_env", factory=True, workers=workers, **options)  # type: ignore[arg-type]
    else:
        uvicorn.run(create_app(kg, settings), **options)  # type: ignore[arg-type]
