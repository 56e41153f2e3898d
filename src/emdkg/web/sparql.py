"""The SPARQL 1.1 Protocol, read-only: requests, refusals, content negotiation, serializers.

What a request may carry (https://www.w3.org/TR/sparql11-protocol/#query-operation):

* ``GET /sparql?query=...``;
* ``POST /sparql`` with ``application/x-www-form-urlencoded`` (``query=...``);
* ``POST /sparql`` with ``application/sparql-query`` (the body is the query);

each with optional ``default-graph-uri`` and ``named-graph-uri`` parameters. The endpoint is
read-only: an update (``update=`` or ``application/sparql-update``, or update text sent as a
query) is refused with 403. A query that would make the server (or the store behind it) fetch
something is refused with 403 too: ``SERVICE`` unless the server was started with
``--allow-service``, and ``file:`` IRIs anywhere.

The checks read a *token stream* of the query (comments, strings and IRIs are tokens of their
own), so a keyword inside a string or an IRI never triggers them and a keyword spelled in any
case is found:

>>> inspect_query('SELECT * WHERE { ?s ?p "SERVICE <file:///etc/passwd>" }').form
'SELECT'
>>> inspect_query('PREFIX x: <http://e/> select * { SERVICE <http://e/s> { ?s ?p ?o } }').uses_service
True
>>> inspect_query('INSERT DATA { <a:b> <a:c> <a:d> }').form
'UPDATE'
>>> inspect_query('SELECT * FROM <file:///etc/passwd> { ?s ?p ?o }').file_iris
['file:///etc/passwd']

Results are serialized here (not by the engine) because the runner counts rows as it reads
them, to stop at the result-size limit and at the deadline:

>>> import pyoxigraph as ox
>>> result = SelectResult(["s", "n"], [(ox.NamedNode("https://e.org/a"), ox.Literal("x, y", language="en"))])
>>> print(serialize(result, MEDIA["csv"]).decode(), end="")
s,n
https://e.org/a,"x, y"
>>> print(serialize(result, MEDIA["tsv"]).decode(), end="")
?s	?n
<https://e.org/a>	"x, y"@en
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

import pyoxigraph as ox

__all__ = [
    "ProtocolError",
    "QueryInfo",
    "inspect_query",
    "check_query",
    "Dataset",
    "SparqlRequest",
    "parse_form",
    "MediaType",
    "MEDIA",
    "negotiate",
    "SelectResult",
    "AskResult",
    "GraphResult",
    "Result",
    "serialize",
    "PREFIXES",
]

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

#: Prefixes written in Turtle results (and offered in the query page's example).
PREFIXES: dict[str, str] = {
    "emdkg": "https://w3id.org/emdkg/",
    "kb": "https://w3id.org/emdkg/kb/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "bibo": "http://purl.org/ontology/bibo/",
    "cito": "http://purl.org/spar/cito/",
    "obo": "http://purl.obolibrary.org/obo/",
    "oboInOwl": "http://www.geneontology.org/formats/oboInOwl#",
}


class ProtocolError(Exception):
    """A request the endpoint answers with an error: HTTP ``status``, a short ``code`` and a message.

    >>> ProtocolError(403, "update-forbidden", "read-only").as_json()
    {'error': 'update-forbidden', 'status': 403, 'message': 'read-only'}
    """

    def __init__(
        self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extra = extra

    def as_json(self) -> dict[str, Any]:
        return {"error": self.code, "status": self.status, "message": self.message, **self.extra}


# --- reading the query text -------------------------------------------------------------------

_TOKEN = re.compile(
    r'''(?P<string>"""(?:[^"\\]|\\.|"(?!""))*"""|'\'\'(?:[^'\\]|\\.|'(?!''))*'\'\'|"(?:[^"\\\n\r]|\\.)*"|'(?:[^'\\\n\r]|\\.)*')'''
    r"""|(?P<iri><[^<>"{}|^`\\\x00-\x20]*>)"""
    r"""|(?P<comment>\#[^\n\r]*)"""
    r"""|(?P<var>[?$][\w\u00b7\u0300-\u036f\u203f-\u2040]+)"""
    r"""|(?P<pname>(?:[A-Za-z_\u00c0-\uffff][\w\-.\u00b7\u00c0-\uffff]*)?:[\w\-.:%\\\u00b7\u00c0-\uffff]*)"""
    r"""|(?P<word>[A-Za-z_][\w]*)""",
    re.DOTALL,
)

_QUERY_FORMS = {"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"}
_UPDATE_WORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH"}


@dataclass(frozen=True)
class QueryInfo:
    """What the token stream of a query text shows.

    ``form`` is ``SELECT``, ``ASK``, ``CONSTRUCT``, ``DESCRIBE``, ``UPDATE`` or None (not
    recognisable: the engine's parser will say what is wrong).
    """

    form: str | None
    uses_service: bool = False
    uses_from: bool = False
    file_iris: list[str] = field(default_factory=list)


def inspect_query(text: str) -> QueryInfo:
    """The query form and the constructs the endpoint must look at (see the module doc)."""
    form: str | None = None
    service = uses_from = False
    update = False
    file_iris: list[str] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "iri":
            iri = match.group()[1:-1]
            if iri[:5].lower() == "file:":
                file_iris.append(iri)
        elif kind == "word":
            word = match.group().upper()
            if form is None and word in _QUERY_FORMS:
                form = word
            elif form is None and word in _UPDATE_WORDS:
                update = True
            elif word == "SERVICE":
                service = True
            elif word == "FROM":
                uses_from = True
            elif word in ("INSERT", "DELETE", "LOAD", "CLEAR", "DROP"):
                update = True  # "SELECT ... ; INSERT ..." is not a query, but say why
    return QueryInfo("UPDATE" if update else form, service, uses_from, file_iris)


def check_query(text: str, *, allow_service: bool = False, allow_from: bool = True) -> QueryInfo:
    """Refuse (with :class:`ProtocolError`) what a public read-only endpoint must not run.

    >>> check_query("SELECT * { SERVICE <http://e/> { ?s ?p ?o } }")
    Traceback (most recent call last):
    ...
    emdkg.web.sparql.ProtocolError: SERVICE (federated query) is disabled on this endpoint; start the server with --allow-service to enable it
    """
    if not text.strip():
        raise ProtocolError(400, "empty-query", "the query is empty")
    info = inspect_query(text)
    if info.form == "UPDATE":
        raise ProtocolError(403, "update-forbidden", "this endpoint is read-only: SPARQL Update is not accepted")
    if info.file_iris:
        raise ProtocolError(
            403,
            "file-iri-forbidden",
            f"file: IRIs are not accepted from the network (found <{info.file_iris[0]}>)",
        )
    if info.uses_service and not allow_service:
        raise ProtocolError(
            403,
            "service-forbidden",
            "SERVICE (federated query) is disabled on this endpoint; start the server with --allow-service to enable it",
        )
    if info.uses_from and not allow_from:
        raise ProtocolError(
            403,
            "from-forbidden",
            "FROM / FROM NAMED are not forwarded to the remote endpoint (it could fetch them); "
            "start the server with --allow-service to allow them",
        )
    return info


# --- reading the request ----------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """The protocol's ``default-graph-uri`` and ``named-graph-uri`` parameters."""

    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.default_graphs or self.named_graphs)


@dataclass(frozen=True)
class SparqlRequest:
    """A query request, read from GET parameters or a POST body."""

    query: str
    dataset: Dataset = Dataset()
    format: str | None = None  # the non-standard ?format= override (json, csv, turtle...)


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """The pairs of an ``application/x-www-form-urlencoded`` body (UTF-8).

    >>> parse_form(b"query=SELECT+%3Fs&default-graph-uri=http%3A%2F%2Fe%2Fg")
    [('query', 'SELECT ?s'), ('default-graph-uri', 'http://e/g')]
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(400, "bad-encoding", "the request body is not UTF-8") from None
    return parse_qsl(text, keep_blank_values=True)


def request_from_params(pairs: Sequence[tuple[str, str]], body_query: str | None = None) -> SparqlRequest:
    """Build a :class:`SparqlRequest` from protocol parameters (and a direct POST body).

    >>> request_from_params([("query", "ASK {}"), ("format", "xml")])
    SparqlRequest(query='ASK {}', dataset=Dataset(default_graphs=(), named_graphs=()), format='xml')
    >>> request_from_params([("update", "DROP ALL")])
    Traceback (most recent call last):
    ...
    emdkg.web.sparql.ProtocolError: this endpoint is read-only: SPARQL Update is not accepted
    """
    queries = [v for k, v in pairs if k == "query"]
    if any(k in ("update", "using-graph-uri", "using-named-graph-uri") for k, _ in pairs):
        raise ProtocolError(403, "update-forbidden", "this endpoint is read-only: SPARQL Update is not accepted")
    if body_query is not None:
        if queries:
            raise ProtocolError(400, "duplicate-query", "the query is both in the body and in the URL")
        queries = [body_query]
    if not queries:
        raise ProtocolError(400, "missing-query", "no query: send query=... (GET or POST form) or an application/sparql-query body")
    if len(queries) > 1:
        raise ProtocolError(400, "duplicate-query", "more than one query parameter")
    defaults = tuple(v for k, v in pairs if k == "default-graph-uri")
    named = tuple(v for k, v in pairs if k == "named-graph-uri")
    for iri in (*defaults, *named):
        if iri[:5].lower() == "file:":
            raise ProtocolError(403, "file-iri-forbidden", f"file: IRIs are not accepted from the network (found <{iri}>)")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*:[^<>\"{}|^`\\\x00-\x20]*", iri) or not _valid_iri(iri):
            raise ProtocolError(400, "bad-graph-iri", f"not an absolute IRI: {iri!r}")
    formats = [v for k, v in pairs if k in ("format", "output")]
    return SparqlRequest(queries[0], Dataset(defaults, named), formats[0] if formats else None)


def _valid_iri(iri: str) -> bool:
    # The engine's own IRI parser: the pattern above lets through what it refuses ("%", "[").
    try:
        ox.NamedNode(iri)
    except ValueError:
        return False
    return True


# --- content negotiation ----------------------------------------------------------------------


@dataclass(frozen=True)
class MediaType:
    """A result format: ``name``, the media type sent, the kind of result it can carry."""

    name: str
    mime: str
    kind: str  # "solutions" (SELECT), "boolean" (ASK) or "graph" (CONSTRUCT/DESCRIBE)
    aliases: tuple[str, ...] = ()

    @property
    def content_type(self) -> str:
        return self.mime + ("; charset=utf-8" if self.mime.startswith("text/") else "")


_M = MediaType
#: Formats in the server's order of preference for each kind of result.
SOLUTION_TYPES = (
    _M("json", "application/sparql-results+json", "solutions", ("application/json",)),
    _M("xml", "application/sparql-results+xml", "solutions", ("application/xml", "text/xml")),
    _M("csv", "text/csv", "solutions"),
    _M("tsv", "text/tab-separated-values", "solutions"),
)
BOOLEAN_TYPES = (
    _M("json", "application/sparql-results+json", "boolean", ("application/json",)),
    _M("xml", "application/sparql-results+xml", "boolean", ("application/xml", "text/xml")),
)
GRAPH_TYPES = (
    _M("turtle", "text/turtle", "graph", ("application/x-turtle",)),
    _M("ntriples", "application/n-triples", "graph", ("text/plain",)),
    _M("jsonld", "application/ld+json", "graph", ("application/json",)),
    _M("rdfxml", "application/rdf+xml", "graph", ("application/xml", "text/xml")),
)
#: Solution formats by short name (``MEDIA["csv"]``); graph formats by theirs.
MEDIA: dict[str, MediaType] = {m.name: m for m in (*SOLUTION_TYPES, *GRAPH_TYPES)}
_FORMAT_ALIASES = {"ttl": "turtle", "nt": "ntriples", "json-ld": "jsonld", "rdf": "rdfxml", "owl": "rdfxml"}


def _accept_ranges(accept: str) -> list[tuple[str, str, float]]:
    ranges = []
    for part in accept.split(","):
        pieces = [p.strip() for p in part.split(";")]
        mime = pieces[0].lower()
        if not mime:
            continue
        q = 1.0
        for param in pieces[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        main, _, sub = mime.partition("/")
        ranges.append((main, sub or "*", q))
    return ranges


def _quality(media: MediaType, ranges: list[tuple[str, str, float]]) -> float:
    best: tuple[int, float] | None = None  # (specificity, q)
    for mime in (media.mime, *media.aliases):
        main, _, sub = mime.partition("/")
        for rmain, rsub, q in ranges:
            if rmain == "*" and rsub == "*":
                spec = 0
            elif rmain == main and rsub == "*":
                spec = 1
            elif rmain == main and rsub == sub:
                spec = 2 if mime == media.mime else 1  # the exact type beats an alias
            else:
                continue
            if best is None or spec > best[0]:
                best = (spec, q)
    return 0.0 if best is None else best[1]


def negotiate(accept: str | None, kind: str, format: str | None = None) -> MediaType:
    """The result format for an ``Accept`` header (or a ``format=`` override).

    >>> negotiate("text/csv;q=0.5, application/sparql-results+xml", "solutions").name
    'xml'
    >>> negotiate(None, "graph").mime, negotiate("application/json", "graph").mime
    ('text/turtle', 'application/ld+json')
    >>> negotiate("image/png", "solutions")
    Traceback (most recent call last):
    ...
    emdkg.web.sparql.ProtocolError: cannot answer a SELECT query as image/png; supported: application/sparql-results+json, application/sparql-results+xml, text/csv, text/tab-separated-values
    """
    types = {"solutions": SOLUTION_TYPES, "boolean": BOOLEAN_TYPES, "graph": GRAPH_TYPES}[kind]
    what = {"solutions": "a SELECT query", "boolean": "an ASK query", "graph": "a CONSTRUCT/DESCRIBE query"}[kind]
    supported = ", ".join(m.mime for m in types)
    if format:
        wanted = _FORMAT_ALIASES.get(format.lower(), format.lower())
        for media in types:
            if wanted in (media.name, media.mime, *media.aliases):
                return media
        raise ProtocolError(406, "not-acceptable", f"cannot answer {what} as {format!r}; supported: {supported}")
    ranges = _accept_ranges(accept or "*/*") or [("*", "*", 1.0)]
    best, best_q = None, 0.0
    for media in types:
        q = _quality(media, ranges)
        if q > best_q:
            best, best_q = media, q
    if best is None:
        raise ProtocolError(406, "not-acceptable", f"cannot answer {what} as {accept}; supported: {supported}")
    return best


# --- results and their serializers ------------------------------------------------------------

Term = Any  # a pyoxigraph NamedNode, BlankNode, Literal or Triple


@dataclass
class SelectResult:
    """The solutions of a SELECT query: variable names and rows of terms (None = unbound)."""

    variables: list[str]
    rows: list[tuple[Term | None, ...]]
    kind = "solutions"


@dataclass
class AskResult:
    """The answer of an ASK query."""

    value: bool
    kind = "boolean"


@dataclass
class GraphResult:
    """The triples of a CONSTRUCT or DESCRIBE query."""

    triples: list[Any]
    kind = "graph"


Result = SelectResult | AskResult | GraphResult


def term_json(term: Term) -> dict[str, Any]:
    """A term in the SPARQL 1.1 JSON results format.

    >>> term_json(ox.Literal("5", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")))
    {'type': 'literal', 'value': '5', 'datatype': 'http://www.w3.org/2001/XMLSchema#integer'}
    """
    kind = type(term)
    if kind is ox.NamedNode:
        return {"type": "uri", "value": term.value}
    if kind is ox.Literal:
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != XSD_STRING:
            out["datatype"] = term.datatype.value
        return out
    if kind is ox.BlankNode:
        return {"type": "bnode", "value": term.value}
    if kind is ox.Triple:
        return {
            "type": "triple",
            "value": {
                "subject": term_json(term.subject),
                "predicate": term_json(term.predicate),
                "object": term_json(term.object),
            },
        }
    raise TypeError(f"not an RDF term: {term!r}")


def _json_solutions(result: SelectResult) -> bytes:
    names = result.variables
    bindings = [
        {name: term_json(term) for name, term in zip(names, row) if term is not None} for row in result.rows
    ]
    doc = {"head": {"vars": names}, "results": {"bindings": bindings}}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return xml_escape(_XML_INVALID.sub("\ufffd", text))


def _xml_term(term: Term) -> str:
    kind = type(term)
    if kind is ox.NamedNode:
        return f"<uri>{_xml_text(term.value)}</uri>"
    if kind is ox.BlankNode:
        return f"<bnode>{_xml_text(term.value)}</bnode>"
    if kind is ox.Literal:
        if term.language:
            return f"<literal xml:lang={quoteattr(term.language)}>{_xml_text(term.value)}</literal>"
        if term.datatype.value != XSD_STRING:
            return f"<literal datatype={quoteattr(term.datatype.value)}>{_xml_text(term.value)}</literal>"
        return f"<literal>{_xml_text(term.value)}</literal>"
    if kind is ox.Triple:
        return (
            f"<triple><subject>{_xml_term(term.subject)}</subject>"
            f"<predicate>{_xml_term(term.predicate)}</predicate>"
            f"<object>{_xml_term(term.object)}</object></triple>"
        )
    raise TypeError(f"not an RDF term: {term!r}")


_XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'


def _xml_solutions(result: SelectResult) -> bytes:
    out = [_XML_HEAD, "<head>"]
    out += [f"<variable name={quoteattr(name)}/>" for name in result.variables]
    out.append("</head><results>")
    for row in result.rows:
        out.append("<result>")
        for name, term in zip(result.variables, row):
            if term is not None:
                out.append(f"<binding name={quoteattr(name)}>{_xml_term(term)}</binding>")
        out.append("</result>")
    out.append("</results></sparql>\n")
    return "".join(out).encode()


def _csv_field(text: str) -> str:
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_term(term: Term | None) -> str:
    if term is None:
        return ""
    kind = type(term)
    if kind is ox.BlankNode:
        return "_:" + term.value
    if kind is ox.Triple:
        return _csv_field(str(term))
    return _csv_field(term.value)


def _csv_solutions(result: SelectResult) -> bytes:
    lines = [",".join(_csv_field(name) for name in result.variables)]
    lines += [",".join(_csv_term(term) for term in row) for row in result.rows]
    return ("\r\n".join(lines) + "\r\n").encode()


def _tsv_solutions(result: SelectResult) -> bytes:
    lines = ["\t".join("?" + name for name in result.variables)]
    lines += ["\t".join("" if term is None else str(term) for term in row) for row in result.rows]
    return ("\n".join(lines) + "\n").encode()


def _graph(result: GraphResult, media: MediaType) -> bytes:
    fmt = {
        "turtle": ox.RdfFormat.TURTLE,
        "ntriples": ox.RdfFormat.N_TRIPLES,
        "jsonld": ox.RdfFormat.JSON_LD,
        "rdfxml": ox.RdfFormat.RDF_XML,
    }[media.name]
    prefixes = PREFIXES if media.name in ("turtle", "rdfxml") else None
    if media.name == "jsonld" and not result.triples:
        return b"[]"
    return ox.serialize(result.triples, format=fmt, prefixes=prefixes)


def serialize(result: Result, media: MediaType) -> bytes:
    """``result`` in the format ``media`` (one :func:`negotiate` chose for its kind)."""
    if isinstance(result, AskResult):
        if media.name == "json":
            return json.dumps({"head": {}, "boolean": result.value}).encode()
        value = "true" if result.value else "false"
        return f"{_XML_HEAD}<head/><boolean>{value}</boolean></sparql>\n".encode()
    if isinstance(result, GraphResult):
        return _graph(result, media)
    return {"json": _json_solutions, "xml": _xml_solutions, "csv": _csv_solutions, "tsv": _tsv_solutions}[
        media.name
    ](result)


def result_kind(form: str | None) -> str | None:
    """The kind of result a query form gives (None when the form is unknown).

    >>> result_kind("DESCRIBE"), result_kind("ASK")
    ('graph', 'boolean')
    """
    return {"SELECT": "solutions", "ASK": "boolean", "CONSTRUCT": "graph", "DESCRIBE": "graph"}.get(form or "")


def plain_rows(result: SelectResult) -> list[dict[str, Any]]:
    """Rows as JSON-able dicts ``{var: {"type", "value", ...}}`` (for the query page)."""
    return [
        {name: term_json(term) for name, term in zip(result.variables, row) if term is not None}
        for row in result.rows
    ]


def iter_limited(items: Iterable[Any], limit: int) -> list[Any]:
    """Up to ``limit + 1`` items (the +1 tells that there were more)."""
    out = []
    for item in items:
        out.append(item)
        if len(out) > limit:
            break
    return out


# --- the HTTP endpoint ------------------------------------------------------------------------


async def sparql_endpoint(request: Any) -> Any:
    """``/sparql``: the SPARQL 1.1 Protocol query operation (GET and both POST forms).

    Errors are JSON ``{"error": code, "status": ..., "message": ...}`` (see
    :class:`ProtocolError`); the app's exception handler writes them.
    """
    from starlette.responses import RedirectResponse, Response

    runner = request.app.state.runner
    accept = request.headers.get("accept")
    body = await request.body() if request.method == "POST" else b""
    # The same bytes asked the same way get the same answer: look the raw request up before
    # parsing it (a form body's percent-decoding and the query checks cost more than the rest).
    raw_key = ("raw", request.method, request.headers.get("content-type"), request.url.query, body, accept)
    hit = runner.cached(raw_key)
    if hit is not None:
        return Response(hit.body, headers={"Vary": "Accept", "X-Emdkg-Cache": "hit"}, media_type=hit.media.content_type)
    url_pairs = parse_qsl(request.url.query, keep_blank_values=True)
    if request.method == "GET":
        if not any(k in ("query", "update") for k, _ in url_pairs) and "text/html" in request.headers.get("accept", ""):
            return RedirectResponse("/query", status_code=303)  # a person opened the endpoint
        sparql = request_from_params(url_pairs)
    else:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/sparql-update":
            raise ProtocolError(403, "update-forbidden", "this endpoint is read-only: SPARQL Update is not accepted")
        if content_type == "application/x-www-form-urlencoded":
            sparql = request_from_params([*url_pairs, *parse_form(body)])
        elif content_type == "application/sparql-query":
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolError(400, "bad-encoding", "the query is not UTF-8") from None
            sparql = request_from_params(url_pairs, body_query=text)
        else:
            raise ProtocolError(
                415,
                "unsupported-media-type",
                f"POST needs application/x-www-form-urlencoded or application/sparql-query, not {content_type or 'no content type'}",
            )
    answer = await runner.sparql(sparql.query, dataset=sparql.dataset, accept=accept, format=sparql.format)
    runner.remember(raw_key, answer)
    headers = {"Vary": "Accept", "X-Emdkg-Cache": "hit" if answer.cached else "miss"}
    return Response(answer.body, headers=headers, media_type=answer.media.content_type)
