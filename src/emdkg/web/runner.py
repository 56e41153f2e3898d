"""Running queries for the server: a time limit, a result-size limit, bounded concurrency, a cache.

Each query runs in a worker thread of a pool owned by :class:`QueryRunner`; the event loop
waits for it with a deadline. pyoxigraph evaluates lazily where it can and releases the GIL
while it works, so the server keeps answering while a query runs, but it cannot be interrupted
*inside* one call: a ``SELECT`` is stopped at the next solution once the deadline has passed or
the result-size limit is exceeded, while an ``ORDER BY`` or an aggregate over a huge join runs
to its end in its thread. Hence the bounds:

* at most ``max_concurrent`` queries are evaluated at once in each of two *lanes*: queries
  people write (``/sparql``, the query page) and the server's own (named queries, pages), so
  a flood of slow hand-written queries never starves the API and the pages; a request that
  cannot get a slot before its own deadline is answered 503 ``busy``;
* a query past its deadline is answered 503 ``timeout`` at once; its thread is *abandoned*
  (asked to stop at the next solution). Up to ``max_abandoned`` abandoned threads give their
  slot back at once, so a few slow queries never block the others; beyond that an abandoned
  thread keeps its slot until it ends. Each lane's pool has ``max_concurrent + max_abandoned``
  threads, so an admitted query always finds a free thread;
* a result with more than ``max_results`` rows (or triples) is an error (422
  ``too-many-results``), never silently truncated.

The data is read-only while the server runs, so successful answers are cached per (query
text, dataset, result format): the bytes are sent again without a query. With a remote
endpoint the cache keeps an answer for ``remote_cache_seconds`` only (the remote data can
change under us).
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

import pyoxigraph as ox

from emdkg.web.sparql import (
    AskResult,
    Dataset,
    GraphResult,
    MediaType,
    ProtocolError,
    Result,
    SelectResult,
    check_query,
    negotiate,
    result_kind,
    serialize,
)

__all__ = ["Engine", "OxigraphEngine", "RemoteEngine", "QueryRunner", "Deadline", "Answer"]

T = TypeVar("T")

#: The concurrency lanes of :class:`QueryRunner` (see :meth:`QueryRunner.call`).
LANES = ("api", "sparql")

#: Check the deadline every this many rows (a clock read per row costs ~3% on big results).
_CHECK_EVERY = 64


class Deadline:
    """When a query must stop, and whether it was asked to stop (abandoned)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.cancelled = threading.Event()

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def check(self) -> None:
        if self.cancelled.is_set() or time.monotonic() > self.at:
            raise timeout_error(self.seconds)


def timeout_error(seconds: float) -> ProtocolError:
    return ProtocolError(
        503,
        "timeout",
        f"the query did not finish within the time limit of {seconds:g} s; narrow it (a LIMIT, "
        "fewer joins, no ORDER BY over everything) or ask the operator to raise --query-timeout",
        headers={"Retry-After": "1"},
        limit_seconds=seconds,
    )


def too_many_error(limit: int, what: str) -> ProtocolError:
    return ProtocolError(
        422,
        "too-many-results",
        f"the query gives more than {limit} {what}, the result-size limit of this endpoint; "
        f"add LIMIT {limit} (and OFFSET to page) or narrow the query",
        limit=limit,
    )


class Engine(Protocol):
    """Evaluates one query; stops when ``deadline`` passes or after ``max_results + 1`` items."""

    #: Whether answers can be kept for the life of the process (the data cannot change).
    immutable: bool

    def execute(self, query: str, dataset: Dataset, deadline: Deadline, max_results: int) -> Result: ...


def _collect(items: Any, deadline: Deadline, max_results: int, what: str) -> list[Any]:
    out: list[Any] = []
    try:
        for i, item in enumerate(items):
            if len(out) >= max_results:
                raise too_many_error(max_results, what)
            out.append(item)
            if i % _CHECK_EVERY == 0:
                deadline.check()
    except (OSError, RuntimeError, ValueError) as e:  # evaluation errors surface lazily
        raise ProtocolError(400, "query-error", f"the query failed: {e}") from None
    deadline.check()
    return out


def _from_oxigraph(result: Any, deadline: Deadline, max_results: int) -> Result:
    if isinstance(result, ox.QueryBoolean):
        return AskResult(bool(result))
    if isinstance(result, ox.QuerySolutions):
        names = [v.value for v in result.variables]
        width = range(len(names))
        rows = _collect(result, deadline, max_results, "rows")
        return SelectResult(names, [tuple(solution[i] for i in width) for solution in rows])
    return GraphResult(_collect(result, deadline, max_results, "triples"))


class OxigraphEngine:
    """Queries an in-process ``pyoxigraph.Store`` (the union of its graphs is the default graph)."""

    immutable = True

    def __init__(self, store: ox.Store) -> None:
        self.store = store

    def execute(self, query: str, dataset: Dataset, deadline: Deadline, max_results: int) -> Result:
        options: dict[str, Any] = {}
        if dataset.default_graphs:
            options["default_graph"] = [ox.NamedNode(g) for g in dataset.default_graphs]
        else:
            options["use_default_graph_as_union"] = True
        if dataset.named_graphs:
            options["named_graphs"] = [ox.NamedNode(g) for g in dataset.named_graphs]
        try:
            result = self.store.query(query, **options)
        except SyntaxError as e:
            raise ProtocolError(400, "syntax-error", f"SPARQL syntax error: {e.msg or e}") from None
        except (OSError, RuntimeError, ValueError) as e:
            raise ProtocolError(400, "query-error", f"the query failed: {e}") from None
        return _from_oxigraph(result, deadline, max_results)


class _Body(io.RawIOBase):
    """A file over an iterator of byte chunks (an HTTP response read as it arrives)."""

    def __init__(self, chunks: Any, deadline: Deadline) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""
        self._deadline = deadline
        #: What stopped the reading (the parser sees only a failed read).
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._deadline.check()
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
            except BaseException as e:
                self.error = e
                raise
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


class RemoteEngine:
    """Forwards queries to a SPARQL 1.1 Protocol endpoint and reads its answer back.

    The answer is read as SPARQL JSON (or N-Triples for graphs) and parsed *as it arrives*
    into terms, so the same limits and serializers apply as for the embedded store: reading
    stops at the deadline or at ``max_results + 1`` rows, and the connection is closed.
    """

    immutable = False

    def __init__(self, url: str) -> None:
        import httpx

        self.url = url
        self._client = httpx.Client(follow_redirects=False)

    def execute(self, query: str, dataset: Dataset, deadline: Deadline, max_results: int) -> Result:
        import httpx

        kind = result_kind(check_query(query, allow_service=True).form) or "solutions"
        accept = "application/n-triples" if kind == "graph" else "application/sparql-results+json"
        form = [("query", query)]
        form += [("default-graph-uri", g) for g in dataset.default_graphs]
        form += [("named-graph-uri", g) for g in dataset.named_graphs]
        remaining = deadline.remaining()
        if remaining <= 0:
            raise timeout_error(deadline.seconds)
        try:
            with self._client.stream(
                "POST", self.url, content=urlencode(form).encode(),
                headers={"Accept": accept, "Content-Type": "application/x-www-form-urlencoded"},
                timeout=httpx.Timeout(remaining),
            ) as response:
                if response.status_code >= 400:
                    detail = b"".join(_take(response.iter_bytes(), 2000)).decode("utf-8", "replace")
                    status = 400 if response.status_code < 500 else 502
                    raise ProtocolError(
                        status, "remote-error",
                        f"the remote endpoint answered {response.status_code}: {' '.join(detail.split())[:300]}",
                    )
                raw = _Body(response.iter_bytes(), deadline)
                body = io.BufferedReader(raw)
                try:
                    if kind == "graph":
                        parsed = ox.parse(body, format=ox.RdfFormat.N_TRIPLES)
                        triples = (q.triple if isinstance(q, ox.Quad) else q for q in parsed)
                        return GraphResult(_collect(triples, deadline, max_results, "triples"))
                    return _from_oxigraph(
                        ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON), deadline, max_results
                    )
                except (SyntaxError, ProtocolError, OSError) as e:
                    if raw.error is not None:  # the read failed, not the parser: say why
                        raise raw.error from None
                    if isinstance(e, ProtocolError):
                        raise
                    raise ProtocolError(502, "remote-error", f"the remote endpoint sent an unreadable answer: {e}") from None
        except httpx.TimeoutException:
            raise timeout_error(deadline.seconds) from None
        except httpx.HTTPError as e:
            raise ProtocolError(502, "remote-error", f"the remote endpoint {self.url} failed: {e}") from None


def _take(chunks: Any, limit: int) -> list[bytes]:
    out, size = [], 0
    for chunk in chunks:
        out.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return out


class Answer:
    """A serialized result: the bytes, their media type, and whether it came from the cache."""

    __slots__ = ("body", "media", "cached", "rows")

    def __init__(self, body: bytes, media: MediaType, cached: bool = False, rows: int | None = None) -> None:
        self.body = body
        self.media = media
        self.cached = cached
        self.rows = rows


class QueryRunner:
    """Runs SPARQL queries (and other blocking calls) within the limits described above."""

    def __init__(
        self,
        engine: Engine,
        *,
        timeout: float = 10.0,
        max_results: int = 10_000,
        max_concurrent: int = 4,
        max_abandoned: int = 4,
        allow_service: bool = False,
        cache_entries: int = 512,
        cache_max_bytes: int = 4 * 1024 * 1024,
        remote_cache_seconds: float = 10.0,
    ) -> None:
        self.engine = engine
        self.timeout = timeout
        self.max_results = max_results
        self.max_concurrent = max_concurrent
        self.max_abandoned = max_abandoned
        self.allow_service = allow_service
        self.cache_entries = cache_entries
        self.cache_max_bytes = cache_max_bytes
        self.cache_seconds = None if engine.immutable else remote_cache_seconds
        # Two lanes, each with its own slots, threads and abandoned count: "sparql" for the
        # queries people write (/sparql, the query page), "api" for the named queries and the
        # pages, whose queries are ours and quick. A flood of slow hand-written queries then
        # fills only its own lane: the API and the pages keep answering.
        self._executors = {
            lane: ThreadPoolExecutor(max_concurrent + max_abandoned, thread_name_prefix=f"emdkg-{lane}")
            for lane in LANES
        }
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._abandoned_in = dict.fromkeys(LANES, 0)
        self._cache: OrderedDict[tuple[Any, ...], tuple[float, bytes, MediaType, int | None]] = OrderedDict()
        self.stats = {"queries": 0, "cache_hits": 0, "timeouts": 0, "busy": 0, "abandoned": 0}

    # -- bookkeeping -----------------------------------------------------------------------

    @property
    def abandoned(self) -> int:
        """Threads still running a query whose client already got its 503 (both lanes)."""
        return sum(self._abandoned_in.values())

    def close(self) -> None:
        for executor in self._executors.values():
            executor.shutdown(wait=False, cancel_futures=True)

    def _semaphore(self, lane: str = "sparql") -> asyncio.Semaphore:
        if lane not in self._slots:
            self._slots[lane] = asyncio.Semaphore(self.max_concurrent)
        return self._slots[lane]

    # -- the generic bounded call ----------------------------------------------------------

    async def call(self, fn: Callable[[Deadline], T], *, timeout: float | None = None, lane: str = "api") -> T:
        """Run ``fn(deadline)`` in a worker thread of ``lane``, within the time limit and the
        concurrency bound of that lane (``"api"``: named queries and pages; ``"sparql"``:
        queries sent by users)."""
        seconds = self.timeout if timeout is None else timeout
        deadline = Deadline(seconds)
        slots = self._semaphore(lane)
        try:
            await asyncio.wait_for(slots.acquire(), timeout=max(deadline.remaining(), 0.001))
        except TimeoutError:
            self.stats["busy"] += 1
            raise ProtocolError(
                503,
                "busy",
                f"the server is busy: {self.max_concurrent} queries are running; retry in a moment",
                headers={"Retry-After": "1"},
            ) from None
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executors[lane], _scrubbed, fn, deadline)
        try:
            result = await asyncio.wait_for(asyncio.shield(future), timeout=max(deadline.remaining(), 0.001))
        except BaseException as e:  # the deadline, or the client went away (CancelledError)
            if future.done():
                slots.release()
                if isinstance(e, TimeoutError) and not future.cancelled():
                    return future.result()
                raise
            deadline.cancelled.set()
            future.add_done_callback(_consume)
            if self._abandoned_in[lane] < self.max_abandoned:
                self._abandoned_in[lane] += 1
                self.stats["abandoned"] += 1
                slots.release()
                future.add_done_callback(lambda _f: self._release_abandoned(lane))
            else:
                future.add_done_callback(lambda _f: slots.release())
            if isinstance(e, TimeoutError):
                self.stats["timeouts"] += 1
                raise timeout_error(seconds) from None
            raise
        slots.release()
        return result

    def _release_abandoned(self, lane: str) -> None:
        self._abandoned_in[lane] -= 1

    # -- SPARQL ----------------------------------------------------------------------------

    async def sparql(
        self, query: str, *, dataset: Dataset = Dataset(), accept: str | None = None, format: str | None = None
    ) -> Answer:
        """Check, run and serialize a query; ``accept``/``format`` choose the result format."""
        info = check_query(query, allow_service=self.allow_service, allow_from=self.engine.immutable or self.allow_service)
        if dataset and not (self.engine.immutable or self.allow_service):
            raise ProtocolError(403, "from-forbidden", "default-graph-uri / named-graph-uri are not forwarded to the remote endpoint")
        kind = result_kind(info.form)
        media = negotiate(accept, kind, format) if kind else None
        key = (query, dataset, media.name if media else (accept, format))
        hit = self._cache_get(key)
        if hit is not None:
            return hit
        self.stats["queries"] += 1

        def work(deadline: Deadline) -> Answer:
            result = self.engine.execute(query, dataset, deadline, self.max_results)
            chosen = media or negotiate(accept, result.kind, format)
            if chosen.kind != result.kind:  # the form was misread; trust the engine
                chosen = negotiate(accept, result.kind, format)
            rows = len(result.rows) if isinstance(result, SelectResult) else None
            return Answer(serialize(result, chosen), chosen, rows=rows)

        answer = await self.call(work, lane="sparql")
        self._cache_put(key, answer)
        return answer

    async def evaluate(self, query: str, *, dataset: Dataset = Dataset()) -> Result:
        """Check and run a query and return its terms (for the query page's table); not cached."""
        check_query(query, allow_service=self.allow_service, allow_from=self.engine.immutable or self.allow_service)
        self.stats["queries"] += 1

        def work(deadline: Deadline) -> Result:
            return self.engine.execute(query, dataset, deadline, self.max_results)

        return await self.call(work, lane="sparql")

    # -- the cache -------------------------------------------------------------------------

    def cached(self, key: tuple[Any, ...]) -> Answer | None:
        """The cached answer under ``key`` (any hashable description of a request), or None."""
        return self._cache_get(key)

    def remember(self, key: tuple[Any, ...], answer: Answer) -> None:
        """Cache ``answer`` under one more ``key`` (e.g. the raw bytes of the request)."""
        self._cache_put(key, answer)

    def _cache_get(self, key: tuple[Any, ...]) -> Answer | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        stored, body, media, rows = entry
        if self.cache_seconds is not None and time.monotonic() - stored > self.cache_seconds:
            del self._cache[key]
            return None
        self._cache.move_to_end(key)
        self.stats["cache_hits"] += 1
        return Answer(body, media, cached=True, rows=rows)

    def _cache_put(self, key: tuple[Any, ...], answer: Answer) -> None:
        if self.cache_entries <= 0 or len(answer.body) > self.cache_max_bytes:
            return
        self._cache[key] = (time.monotonic(), answer.body, answer.media, answer.rows)
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_entries:
            self._cache.popitem(last=False)


def _scrub(error: BaseException | None) -> None:
    """Clear the frames of ``error``'s tracebacks (and of the errors it chains to).

    pyoxigraph's result iterators must be dropped on the thread that made them; a traceback
    that travels to the event loop keeps the frames that hold one alive, and dropping it there
    is an error. The frames are finished: clearing them loses only their local variables.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        traceback.clear_frames(error.__traceback__)
        error = error.__cause__ or error.__context__


def _scrubbed(fn: Callable[[Deadline], T], deadline: Deadline) -> T:
    try:
        return fn(deadline)
    except BaseException as e:
        _scrub(e)
        raise


def _consume(future: Any) -> None:
    # An abandoned future's exception (timeout, cancellation) is expected: read it so asyncio
    # does not log "exception was never retrieved".
    if not future.cancelled():
        future.exception()
