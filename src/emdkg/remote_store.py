"""A :class:`~emdkg.store.Store` over the SPARQL 1.1 Protocol: any SPARQL server, same rows.

:class:`RemoteStore` sends each query to a server's query endpoint (Oxigraph server's
``/query``, Virtuoso's ``/sparql``, Fuseki's ``/ds/query``...) and turns the JSON results into
the engine-neutral values of :mod:`emdkg.values`, so the named queries give the same rows as on
the embedded stores.

How queries travel
------------------
* As an HTML-form POST (``query=...``, ``application/x-www-form-urlencoded``), one of the three
  ways the protocol defines, and the one every server takes: Virtuoso 7.2 leaves a request with
  a raw ``application/sparql-query`` body hanging until it times out.
* The endpoint URL may carry protocol parameters: ``...?default-graph-uri=IRI`` makes that graph
  the default graph of every query (Virtuoso's default graph is the union of *all* its graphs,
  system graphs included; Oxigraph server's is its own default graph unless started with
  ``--union-default-graph``).
* Every request has a timeout; a timeout, a refused connection, a failed authentication or a
  server error is a one-line :class:`~emdkg.errors.RemoteError`.

Bindings without injection
--------------------------
The protocol has no way to send a bound value as an RDF term, so the values travel in the
query text, and safely: each value becomes exactly one SPARQL term token
(:func:`sparql_term`: IRIs are checked against the IRIREF grammar, strings escaped with the
ECHAR escapes, language tags checked), and the terms go into one ``VALUES`` row placed at the
start of the query's WHERE group (:func:`bind_query`). Nothing else in the query text changes,
so a value cannot change the query's structure; ``tests/test_remote_store.py`` checks that with
hypothesis by comparing parsed algebras. A ``VALUES`` block at the start of the group joins
every solution with the bound terms, which is what the embedded stores' substitution does (and
the same rule holds: a bound variable of a SELECT must be projected).

>>> print(bind_query("SELECT ?d ?s WHERE { ?f <http://e.org/d> ?d ; <http://e.org/s> ?s }",
...                  {"d": IRI("http://e.org/mm"), "s": 'x"} UNION {'}))
SELECT ?d ?s WHERE { VALUES (?d ?s) { (<http://e.org/mm> "x\\"} UNION {") } ?f <http://e.org/d> ?d ; <http://e.org/s> ?s }
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from emdkg.errors import EmdkgError, QueryError, RemoteError, one_line
from emdkg.store import FORMATS, Bindings, Rows, _variable_names, format_name, unprojected_error
from emdkg.values import IRI, BNode, literal_value, term_spec

__all__ = [
    "RemoteStore",
    "http_client",
    "remote_errors",
    "check_url",
    "check_response",
    "sparql_term",
    "bind_query",
    "query_form",
    "AUTH_SCHEMES",
    "DEFAULT_TIMEOUT",
]

#: Seconds to wait for a server (connect, send, and each read).
DEFAULT_TIMEOUT = 30.0
AUTH_SCHEMES = ("auto", "basic", "digest")

# --------------------------------------------------------------------------------------------
# HTTP: client, authentication, errors
# --------------------------------------------------------------------------------------------


class _AutoAuth(httpx.Auth):
    """Basic or Digest authentication, whichever the server's ``WWW-Authenticate`` asks for.

    Virtuoso's ``/sparql-graph-crud-auth`` and ``/sparql-auth`` want Digest; most others take
    Basic. With ``scheme="auto"`` the first request goes without credentials, and a 401 answer
    decides the scheme for the rest of the session.
    """

    requires_request_body = True  # Digest may need to send the body again

    def __init__(self, user: str, password: str, scheme: str = "auto") -> None:
        self._basic = httpx.BasicAuth(user, password)
        self._digest = httpx.DigestAuth(user, password)
        self.scheme = None if scheme == "auto" else scheme

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        if self.scheme == "basic":
            yield from self._basic.auth_flow(request)
            return
        if self.scheme == "digest":
            yield from self._digest.auth_flow(request)
            return
        response = yield request
        if response.status_code != 401:
            return
        offered = [h.split(None, 1)[0].lower() for h in response.headers.get_list("www-authenticate") if h.strip()]
        if "digest" in offered:
            self.scheme = "digest"
            # Sends the request again, reads the challenge, answers it; later requests reuse it.
            yield from self._digest.auth_flow(request)
        elif "basic" in offered or not offered:
            self.scheme = "basic"
            yield from self._basic.auth_flow(request)


def http_client(
    timeout: float = DEFAULT_TIMEOUT,
    *,
    user: str | None = None,
    password: str | None = None,
    auth: str = "auto",
) -> httpx.Client:
    """An ``httpx.Client`` with the timeout and (when ``user`` is given) the authentication."""
    if auth not in AUTH_SCHEMES:
        raise EmdkgError(f"unknown authentication scheme {auth!r} (one of: {', '.join(AUTH_SCHEMES)})")
    if password is not None and user is None:
        raise EmdkgError("a password needs a user name (--user)")
    credentials = _AutoAuth(user, password or "", auth) if user is not None else None
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        auth=credentials,
        follow_redirects=True,
        trust_env=False,  # loopback servers must not go through a proxy from the environment
        headers={"User-Agent": "emdkg"},
    )


def check_url(url: str, what: str = "URL") -> str:
    """``url`` if it is an absolute http(s) URL, else a one-line :class:`EmdkgError` naming ``what``.

    Checked before any request, so that a hostile or mistyped URL (another scheme, white space
    or control characters that could split a header, an unparseable host) is refused up front.

    >>> check_url("http://127.0.0.1:7878/query")
    'http://127.0.0.1:7878/query'
    >>> check_url("file:///etc/passwd", "--endpoint")
    Traceback (most recent call last):
    ...
    emdkg.errors.EmdkgError: --endpoint: not an http(s) URL: 'file:///etc/passwd'
    """
    hint = "give the server's address, e.g. http://127.0.0.1:7878/query"
    if not isinstance(url, str) or any(c.isspace() or not c.isprintable() for c in url):
        raise EmdkgError(f"{what}: not a valid URL (white space or control characters): {url!r}", hint=hint)
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError, UnicodeError) as e:
        raise EmdkgError(f"{what}: not a valid URL: {url!r} ({one_line(str(e))})", hint=hint) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise EmdkgError(f"{what}: not an http(s) URL: {url!r}", hint=hint)
    return url


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if "refused" in text.lower():
        return "connection refused"
    return text


@contextlib.contextmanager
def remote_errors(url: str, timeout: float | None) -> Iterator[None]:
    """Turn httpx's transport errors into one-line :class:`RemoteError` s naming ``url``."""
    try:
        yield
    except httpx.TimeoutException:
        within = f" within {timeout:g} s" if timeout is not None else ""
        raise RemoteError(f"{url}: no answer{within} (timed out)") from None
    except httpx.ConnectError as e:
        raise RemoteError(f"cannot connect to {url}: {_reason(e)}") from None
    except httpx.RemoteProtocolError as e:
        raise RemoteError(f"{url}: the server closed the connection ({_reason(e)})") from None
    except httpx.HTTPError as e:
        raise RemoteError(f"{url}: {_reason(e)}") from None
    except httpx.InvalidURL as e:  # not an HTTPError: raised while the request is built
        raise RemoteError(f"not a valid URL: {url!r} ({one_line(str(e))})") from None


def _body_excerpt(response: httpx.Response, limit: int = 200) -> str:
    try:
        text = response.text
    except Exception:  # undecodable body: the status says enough
        return ""
    text = one_line(re.sub(r"<[^>]+>", " ", text))  # strip HTML error pages to their words
    return text[:limit] + ("..." if len(text) > limit else "")


def check_response(response: httpx.Response, what: str, *, query_error: bool = False) -> None:
    """Raise a one-line error for a non-2xx answer (a :class:`QueryError` for a 400 if asked)."""
    if response.is_success:
        return
    status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    detail = _body_excerpt(response)
    if response.status_code in (401, 403):
        raise RemoteError(f"{what}: {status}: authentication failed or not allowed (check --user/--password)")
    message = f"{what}: {status}" + (f": {detail}" if detail else "")
    if query_error and response.status_code == 400:
        raise QueryError(message)
    raise RemoteError(message)


# --------------------------------------------------------------------------------------------
# SPARQL text: terms, the query form, the VALUES row
# --------------------------------------------------------------------------------------------

_LANG_RE = re.compile(r"[a-zA-Z]{1,8}(?:-[a-zA-Z0-9]{1,8})*")
_VARNAME_RE = re.compile(r"[A-Za-z0-9_\u00b7\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u037d\u037f-\u1fff\u200c\u200d\u203f\u2040\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd]+")
_ECHAR = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_NEEDS_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f]')


def _escape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        char = match.group()
        return _ECHAR.get(char) or f"\\u{ord(char):04X}"

    return _NEEDS_ESCAPE.sub(one, text)


def sparql_term(value: Any) -> str:
    """One value as one SPARQL term token; raises :class:`QueryError` for what cannot be one.

    >>> from emdkg.values import LangString
    >>> sparql_term(IRI("https://w3id.org/emdkg/Relapse")), sparql_term(LangString("a\\\\b", "EN"))
    ('<https://w3id.org/emdkg/Relapse>', '"a\\\\\\\\b"@en')
    >>> sparql_term(IRI("http://e.org/> } ; DROP ALL #"))
    Traceback (most recent call last):
    ...
    emdkg.errors.QueryError: not a valid absolute IRI: 'http://e.org/> } ; DROP ALL #'
    """
    kind, text, extra = term_spec(value)  # validates IRIs against the IRIREF grammar
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no RDF term holds one
        raise QueryError(f"not valid Unicode text: {text!r}") from None
    if kind == "iri":
        return f"<{text}>"
    quoted = f'"{_escape(text)}"'
    if kind == "lang":
        assert extra is not None
        if not _LANG_RE.fullmatch(extra):
            raise QueryError(f"not a valid language tag: {extra!r}")
        return f"{quoted}@{extra}"
    if extra == "http://www.w3.org/2001/XMLSchema#string":
        return quoted  # a plain literal is an xsd:string; some stores keep the two apart
    return f"{quoted}^^<{extra}>"


_TOKEN = re.compile(
    r'''(?P<string>"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^'\\]|\\.|'(?!''))*\'\'\'|"(?:[^"\\\n\r]|\\.)*"|'(?:[^'\\\n\r]|\\.)*')'''
    r"""|(?P<iri><[^<>"{}|^`\\\x00-\x20]*>)"""
    r"""|(?P<comment>\#[^\n\r]*)"""
    r"""|(?P<var>[?$][^\s(){}\[\],;.!=<>"'#+*/|&^-]+)"""
    r"""|(?P<word>[A-Za-z_][\w\-]*(?::[^\s(){}\[\],;"'#<>]*)?|:[^\s(){}\[\],;"'#<>]*)"""
    r"""|(?P<punct>[{}()])"""
    r"""|(?P<other>\S)""",
    re.DOTALL,
)

_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")


@dataclass
class _Token:
    kind: str
    text: str
    start: int
    end: int


def _tokens(query: str) -> list[_Token]:
    """The query's tokens, comments dropped; strings and IRIs are single tokens."""
    return [
        _Token(m.lastgroup or "other", m.group(), m.start(), m.end())
        for m in _TOKEN.finditer(query)
        if m.lastgroup != "comment"
    ]


def query_form(query: str) -> str | None:
    """``SELECT``, ``ASK``, ``CONSTRUCT`` or ``DESCRIBE`` (the first such keyword), or None.

    >>> query_form('PREFIX s: <http://e.org/select#> # SELECT\\nASK { ?a s:p "SELECT" }')
    'ASK'
    """
    for token in _tokens(query):
        if token.kind == "word" and token.text.upper() in _FORMS:
            return token.text.upper()
    return None


def _matching(tokens: list[_Token], index: int) -> int:
    """The index of the ``}`` closing the ``{`` at ``index``."""
    depth = 0
    for i in range(index, len(tokens)):
        if tokens[i].text == "{":
            depth += 1
        elif tokens[i].text == "}":
            depth -= 1
            if depth == 0:
                return i
    raise QueryError("SPARQL syntax error: unbalanced braces")


def bind_query(query: str, bindings: Bindings | None) -> str:
    """``query`` with ``bindings`` as one ``VALUES`` row opening its WHERE group.

    Each value is one term token (:func:`sparql_term`) and the block is the only text added,
    so the rest of the query is unchanged. A WHERE group that is a bare sub-SELECT is wrapped
    in braces (a sub-SELECT must stand alone in its group). Raises :class:`QueryError` for a
    bound variable a SELECT does not project (the rule of :mod:`emdkg.store`), and for the
    short ``CONSTRUCT WHERE`` form, whose pattern is also its template.

    >>> bind_query("SELECT ?x WHERE { ?x ?p ?o }", {"o": 1})
    Traceback (most recent call last):
    ...
    emdkg.errors.QueryError: bound variable ?o is not in the SELECT projection (project it: SELECT ?o ...)
    >>> bind_query("ASK { SELECT ?x { ?x ?p ?o } }", {"x": IRI("http://e.org/x")})
    'ASK { VALUES (?x) { (<http://e.org/x>) } { SELECT ?x { ?x ?p ?o } } }'
    """
    variables = _variable_names(bindings)
    if not variables:
        return query
    for name in variables:
        if not _VARNAME_RE.fullmatch(name):
            raise QueryError(f"not a valid SPARQL variable name: {name!r}")
    names = sorted(variables)
    row = " ".join(sparql_term(variables[name]) for name in names)
    block = "VALUES (" + " ".join("?" + n for n in names) + ") { (" + row + ") }"

    tokens = _tokens(query)
    form_at = next(
        (i for i, t in enumerate(tokens) if t.kind == "word" and t.text.upper() in _FORMS), None
    )
    if form_at is None:
        raise QueryError("bindings need a SELECT, ASK, CONSTRUCT or DESCRIBE query")
    form = tokens[form_at].text.upper()
    i = form_at + 1
    if form == "CONSTRUCT":
        if i < len(tokens) and tokens[i].text == "{":
            i = _matching(tokens, i) + 1  # skip the template
        else:
            raise QueryError("bindings need the full CONSTRUCT { template } WHERE { pattern } form")
    depth = 0
    projected: set[str] = set()
    star = False
    where = None
    for j in range(i, len(tokens)):
        t = tokens[j]
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        elif t.text == "{" and depth == 0:
            where = j
            break
        elif form == "SELECT" and t.kind == "var" and (depth == 0 or tokens[j - 1].text.upper() == "AS"):
            projected.add(t.text[1:])
        elif form == "SELECT" and t.text == "*" and depth == 0:
            star = True
    if where is None:
        raise QueryError("SPARQL syntax error: no WHERE group")
    if form == "SELECT" and not star:
        for name in names:
            if name not in projected:
                raise unprojected_error(name)
    brace = tokens[where]
    inner = tokens[where + 1] if where + 1 < len(tokens) else None
    if inner is not None and inner.kind == "word" and inner.text.upper() == "SELECT":
        close = tokens[_matching(tokens, where)]
        return (
            query[: brace.end] + " " + block + " {" + query[brace.end : close.start] + "} "
            + query[close.start :]
        )
    return query[: brace.end] + " " + block + query[brace.end :]


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------

_RDF_ACCEPT = "application/n-triples, text/turtle;q=0.9, application/rdf+xml;q=0.5"


def _value(term: Mapping[str, Any]) -> object:
    kind = term.get("type")
    value = term.get("value", "")
    if kind == "uri":
        return IRI(value)
    if kind == "bnode":
        return BNode(value)
    if kind in ("literal", "typed-literal"):  # "typed-literal": Virtuoso and other old servers
        lang = term.get("xml:lang")
        return literal_value(value, term.get("datatype"), lang)
    if kind == "triple":
        inner = term["value"]
        return (_value(inner["subject"]), _value(inner["predicate"]), _value(inner["object"]))
    raise RemoteError(f"unexpected term in SPARQL results: {json.dumps(term)[:100]}")


class RemoteStore:
    """A read-only :class:`~emdkg.store.Store` behind a SPARQL 1.1 Protocol query endpoint.

    ``url`` may carry protocol parameters (``?default-graph-uri=...``). ``timeout`` bounds each
    request in seconds. ``user``/``password`` authenticate (Basic or Digest, see
    :func:`http_client`).
    """

    backend = "remote"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        user: str | None = None,
        password: str | None = None,
        auth: str = "auto",
        client: httpx.Client | None = None,
    ) -> None:
        check_url(url, "endpoint")
        self.url = url
        self.timeout = timeout
        self._client = client or http_client(timeout, user=user, password=password, auth=auth)

    def __repr__(self) -> str:
        return f"<RemoteStore {self.url}>"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RemoteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, query: str, bindings: Bindings | None, form: str, accept: str) -> httpx.Response:
        found = query_form(query)
        if found != form and not (form == "CONSTRUCT" and found == "DESCRIBE"):
            need = {"SELECT": "select() needs a SELECT query", "ASK": "ask() needs an ASK query"}
            raise QueryError(need.get(form, "construct() needs a CONSTRUCT or DESCRIBE query"))
        text = bind_query(query, bindings)
        with remote_errors(self.url, self.timeout):
            response = self._client.post(self.url, data={"query": text}, headers={"Accept": accept})
        check_response(response, self.url, query_error=True)
        return response

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = json.loads(response.content)
        except ValueError:
            kind = response.headers.get("content-type", "?")
            raise RemoteError(f"{self.url}: expected SPARQL JSON results, got {kind}") from None
        if not isinstance(data, dict):
            raise RemoteError(f"{self.url}: malformed SPARQL JSON results")
        return data

    def select(self, query: str, bindings: Bindings | None = None) -> Rows:
        """Run a SELECT query (see :class:`~emdkg.store.Store`)."""
        response = self._request(query, bindings, "SELECT", "application/sparql-results+json")
        data = self._json(response)
        try:
            names = list(data["head"]["vars"])
            solutions = data["results"]["bindings"]
        except (KeyError, TypeError):
            raise RemoteError(f"{self.url}: malformed SPARQL JSON results") from None
        rows = Rows(names)
        for solution in solutions:
            rows.append({name: _value(solution[name]) if name in solution else None for name in names})
        return rows

    def ask(self, query: str, bindings: Bindings | None = None) -> bool:
        """Run an ASK query (see :class:`~emdkg.store.Store`)."""
        response = self._request(query, bindings, "ASK", "application/sparql-results+json")
        answer = self._json(response).get("boolean")
        if not isinstance(answer, bool):
            raise RemoteError(f"{self.url}: malformed ASK result")
        return answer

    def construct(self, query: str, bindings: Bindings | None = None, *, format: str = "ntriples") -> bytes:
        """Run a CONSTRUCT or DESCRIBE query (see :class:`~emdkg.store.Store`)."""
        response = self._request(query, bindings, "CONSTRUCT", _RDF_ACCEPT)
        return self._reserialize(response, format)

    def _reserialize(self, response: httpx.Response, format: str, prefixes: Mapping[str, str] | None = None) -> bytes:
        import pyoxigraph as ox

        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        source = ox.RdfFormat.N_TRIPLES if media in ("text/plain", "") else ox.RdfFormat.from_media_type(media)
        if source is None:
            raise RemoteError(f"{self.url}: answered RDF as {media!r}, which emdkg cannot read")
        target = FORMATS[format_name(format)][0]
        try:
            triples = [q.triple for q in ox.parse(response.content, format=source)]
            return ox.serialize(triples, format=target, prefixes=dict(prefixes or {}))
        except (SyntaxError, ValueError) as e:
            raise RemoteError(f"{self.url}: unreadable RDF answer: {e}") from None

    def serialize(self, format: str = "nquads", *, prefixes: Mapping[str, str] | None = None) -> bytes:
        """The default graph of the endpoint in ``format`` (quad formats: as the default graph)."""
        query = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
        response = self._request(query, None, "CONSTRUCT", _RDF_ACCEPT)
        return self._reserialize(response, format, prefixes)

    def __len__(self) -> int:
        """The number of triples in the endpoint's default graph."""
        rows = self.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
        return int(rows[0]["n"]) if rows else 0

    def load_bytes(self, data: bytes, format: str, *, base_iri: str | None = None) -> None:
        """Not offered: a remote store is read-only here (use ``emdkg load`` to fill a server)."""
        raise EmdkgError("a remote store is read-only here; put data into the server with `emdkg load`")
