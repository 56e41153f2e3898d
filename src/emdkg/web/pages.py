"""The pages for people (server-rendered Jinja2) and the named-query JSON API.

Routes (see :func:`emdkg.web.app.create_app`):

=============================  ==================================================================
``/``                          competency questions as one-click examples, search box, diseases
``/search?q=``                 entities by label, synonym, CURIE, DOI or PMID
``/entity/{curie-or-slug}``    an entity: definition, hierarchy, its findings grouped by phase
                               with quote, evidence code, grade and DOI/PubMed links; a disease
                               also gets its sites x phase heat map; source-error badges
``/figures/sites.svg?disease=`` the heat map alone
``/errors``                    the flagged source errors with their corrections
``/query``                     SPARQL editor and results table
``/ask/{name}?param=``         a named query's answer as a table
``/api/queries``               the named queries (JSON)
``/api/queries/{name}?param=`` a named query's rows, resolved parameters and sources (JSON)
=============================  ==================================================================

Every page call that touches the store goes through the app's
:class:`~emdkg.web.runner.QueryRunner`, so pages have the same time limit and concurrency bound
as ``/sparql``.
"""

from __future__ import annotations

import difflib
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from emdkg import __version__
from emdkg.errors import EmdkgError, QueryError, UnknownTermError
from emdkg.values import IRI, BNode, LangString
from emdkg.web import data
from emdkg.web.data import EMDKG, KB, curie, expand
from emdkg.web.figures import heatmap_svg
from emdkg.web.runner import Deadline
from emdkg.web.sparql import PREFIXES, ProtocolError, SelectResult, plain_rows, term_json

__all__ = ["EXAMPLES", "SPARQL_EXAMPLES", "TEMPLATE_GLOBALS", "TEMPLATE_FILTERS"]


# --- the competency questions on the home page ------------------------------------------------


@dataclass(frozen=True)
class Example:
    """A competency question: a named query with its parameters, one click away."""

    title: str
    query: str
    params: tuple[tuple[str, str], ...] = ()
    blurb: str = ""

    @property
    def href(self) -> str:
        return f"/ask/{quote(self.query)}" + (f"?{urlencode(self.params)}" if self.params else "")

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")


EXAMPLES: tuple[Example, ...] = (
    Example("Sites at relapse of multiple myeloma", "sites",
            (("disease", "multiple myeloma"), ("phase", "relapse")),
            "Where extramedullary myeloma is found when the disease comes back."),
    Example("Sites at diagnosis of multiple myeloma", "sites",
            (("disease", "multiple myeloma"), ("phase", "at diagnosis")),
            "Typical extramedullary sites when myeloma is first diagnosed."),
    Example("Incidence of EMD in multiple myeloma", "incidence", (("disease", "multiple myeloma"),),
            "How often extramedullary disease occurs, per phase and population."),
    Example("Therapies for ALL", "therapies", (("disease", "acute lymphoblastic leukemia"),),
            "Drugs, regimens and procedures for acute lymphoblastic leukemia, with outcomes."),
    Example("Prognosis of extramedullary myeloma", "prognosis", (("disease", "multiple myeloma"),),
            "Who fares worse or better, compared with whom."),
    Example("Treatment phases of ALL", "treatment-phases", (("disease", "acute lymphoblastic leukemia"),),
            "Induction, consolidation, maintenance, sanctuary therapy: what each uses."),
    Example("Components of VDCP", "regimen-components", (("regimen", "VDCP"),),
            "The drugs of the VDCP induction regimen."),
    Example("Treatment programmes for ALL", "programmes", (("disease", "acute lymphoblastic leukemia"),),
            "Hospital programmes: duration, setting, price."),
    Example("Evidence about blinatumomab", "evidence", (("entity", "blinatumomab"),),
            "Every finding that names blinatumomab, with its quote and source."),
    Example("Citations of Yoon et al. 2020", "citations", (("publication", "10.1038/s41409-019-0708-9"),),
            "What the paper cites and what cites it."),
    Example("Source errors", "source-errors", (),
            "Claims that sources got wrong: what they said, what is wrong, the correction."),
)

SPARQL_EXAMPLES: dict[str, tuple[str, str]] = {
    "sites-relapse": (
        "Sites at relapse of multiple myeloma",
        """PREFIX emdkg: <https://w3id.org/emdkg/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX bibo: <http://purl.org/ontology/bibo/>

SELECT ?site ?siteLabel ?doi ?quote WHERE {
  ?finding a emdkg:SiteInvolvementFinding ;
           emdkg:disease emdkg:MultipleMyeloma ;
           emdkg:diseasePhase emdkg:Relapse ;
           emdkg:site ?site ;
           emdkg:quote ?quote ;
           emdkg:source ?source .
  ?site rdfs:label ?siteLabel .
  OPTIONAL { ?source bibo:doi ?doi }
  FILTER(lang(?siteLabel) = "en" && lang(?quote) = "en")
}
ORDER BY ?siteLabel
""",
    ),
    "findings-by-type": (
        "Findings per type",
        """PREFIX emdkg: <https://w3id.org/emdkg/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>

SELECT ?type (COUNT(?finding) AS ?findings) WHERE {
  ?finding a ?type .
  ?type rdfs:subClassOf emdkg:Finding .
}
GROUP BY ?type
ORDER BY DESC(?findings)
""",
    ),
    "flagged": (
        "Flagged source claims",
        """PREFIX emdkg: <https://w3id.org/emdkg/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>

SELECT ?claim ?errorType ?whatIsWrong ?correctedBy WHERE {
  ?claim a emdkg:FlaggedClaim ;
         emdkg:errorType ?errorType ;
         emdkg:whatIsWrong ?whatIsWrong ;
         emdkg:correctedBy ?correctedBy .
}
""",
    ),
    "disease-tree": (
        "The disease hierarchy",
        """PREFIX emdkg: <https://w3id.org/emdkg/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>

SELECT ?disease ?label ?parent WHERE {
  ?disease rdfs:subClassOf+ emdkg:Disease ;
           rdfs:subClassOf ?parent ;
           rdfs:label ?label .
  FILTER(isIRI(?parent) && lang(?label) = "en")
}
ORDER BY ?label
""",
    ),
    "describe": (
        "Describe a publication (CONSTRUCT-style answer)",
        """PREFIX kb: <https://w3id.org/emdkg/kb/>

DESCRIBE kb:blade-2022
""",
    ),
}


# --- helpers for templates --------------------------------------------------------------------


def entity_href(iri: str) -> str:
    """The page of an entity: ``/entity/emdkg:MultipleMyeloma``; outside IRIs go through ?iri=."""
    short = curie(iri)
    if short != iri and ":" in short:
        return "/entity/" + quote(short, safe=":")
    return "/entity/?" + urlencode({"iri": iri})


def is_local(iri: str) -> bool:
    return iri.startswith(EMDKG)


def doi_href(doi: str) -> str:
    return "https://doi.org/" + doi


def _lang_label(lang: str) -> str:
    return {"en": "English", "zh": "Chinese", "fr": "French", "de": "German"}.get(lang, lang)


def cell_view(value: Any) -> dict[str, Any]:
    """How a result cell is shown: text, a link (entity page or DOI), a language tag."""
    if value is None:
        return {"text": ""}
    if isinstance(value, dict):  # a SPARQL JSON term
        kind = value.get("type")
        if kind == "uri":
            return {"text": curie(value["value"]), "href": entity_href(value["value"]), "title": value["value"]}
        if kind == "bnode":
            return {"text": "_:" + value["value"]}
        if kind == "triple":
            parts = [cell_view(value["value"][k])["text"] for k in ("subject", "predicate", "object")]
            return {"text": "<< " + " ".join(parts) + " >>"}
        return {"text": value.get("value", ""), "lang": value.get("xml:lang")}
    if isinstance(value, IRI):
        return {"text": curie(str(value)), "href": entity_href(str(value)), "title": str(value)}
    if isinstance(value, BNode):
        return {"text": "_:" + str(value)}
    if isinstance(value, LangString):
        return {"text": str(value), "lang": value.lang}
    text = _plain(value)
    if isinstance(text, str) and re.fullmatch(r"(?:doi:|https://doi\.org/)?10\.\d{4,9}/\S+", text):
        doi = re.sub(r"^(?:doi:|https://doi\.org/)", "", text)
        return {"text": text, "href": doi_href(doi), "external": True}
    if isinstance(text, str) and re.fullmatch(r"pmid:\d+", text, re.IGNORECASE):
        return {"text": text, "href": f"https://pubmed.ncbi.nlm.nih.gov/{text[5:]}/", "external": True}
    return {"text": "" if text is None else str(text)}


def source_links(value: Any) -> list[dict[str, Any]]:
    """A ``sources`` cell ("doi:10...|pmid:123" or a list) as links."""
    if value is None:
        return []
    parts: Iterable[Any] = value if isinstance(value, (list, tuple)) else re.split(r"\s*[|;,]\s*|\s+", str(value))
    return [cell_view(p) for p in parts if str(p).strip()]


TEMPLATE_GLOBALS: dict[str, Any] = {
    "entity_href": entity_href,
    "curie": curie,
    "doi_href": doi_href,
    "version": __version__,
    "lang_label": _lang_label,
}
TEMPLATE_FILTERS: dict[str, Callable[..., Any]] = {
    "cell": cell_view,
    "source_links": source_links,
}


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    templates = request.app.state.templates
    return templates.TemplateResponse(request, template, context, status_code=status_code)


async def in_pool(request: Request, fn: Callable[[], Any]) -> Any:
    """Run a blocking store call within the runner's time limit and concurrency bound."""
    runner = request.app.state.runner

    def work(deadline: Deadline) -> Any:
        return fn()

    try:
        return await runner.call(work)
    except EmdkgError:
        raise
    except (RuntimeError, OSError, ValueError) as e:
        raise ProtocolError(502, "store-error", f"the store failed: {e}") from None


# --- the knowledge graph API, as the pages use it ---------------------------------------------


@dataclass
class ParamInfo:
    name: str
    description: str = ""
    required: bool = False
    kind: str = ""
    example: str | None = None
    default: str | None = None


@dataclass
class NamedQueryInfo:
    name: str
    summary: str = ""
    description: str = ""
    params: list[ParamInfo] = field(default_factory=list)
    example: str | None = None
    columns: list[str] = field(default_factory=list)


def named_queries(kg: Any) -> dict[str, NamedQueryInfo]:
    """The named queries (:mod:`emdkg.queries`), by name, with their parameters and columns."""
    from emdkg.queries import registry

    return {
        name: NamedQueryInfo(
            name=name,
            summary=query.summary,
            description=query.description,
            params=[
                ParamInfo(p.name, p.description, p.required, p.kind, query.example_params().get(p.name), p.default)
                for p in query.params
            ],
            example=query.example,
            columns=list(query.columns),
        )
        for name, query in sorted(registry().items())
    }


def _plain(value: Any) -> Any:
    """A JSON-able value for a row cell (the same as the command line's ``--format json``)."""
    from emdkg.cli.output import json_value

    return json_value(value)


_SOURCE_RE = re.compile(r"(?:doi:10\.\d{4,9}/[^\s|;,]+|pmid:\d+|https://doi\.org/10\.\d{4,9}/[^\s|;,]+)", re.IGNORECASE)


def _rows_and_columns(result: Any) -> tuple[list[str], list[dict[str, Any]]]:
    rows = [dict(row) for row in result]
    return (list(rows[0]) if rows else []), rows


def _sources(rows: list[dict[str, Any]]) -> list[str]:
    found: dict[str, None] = {}
    for row in rows:
        for value in row.values():
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if item is None:
                    continue
                for match in _SOURCE_RE.findall(str(item)):
                    found[re.sub(r"^https://doi\.org/", "doi:", match)] = None
    return list(found)


def _resolve_param(kg: Any, value: str, kind: str | None = None) -> dict[str, Any] | None:
    """What a parameter value names (IRI, CURIE, label), or None when it names nothing."""
    try:
        term = kg.resolve(value, kind)
    except EmdkgError:
        return None
    return {"value": value, "iri": str(term.iri), "curie": term.curie, "label": term.label}


@dataclass(frozen=True)
class Column:
    """How a named query's column is shown: its header, and the column holding its IRI."""

    name: str
    header: str
    link: str | None = None
    wide: bool = False


_WIDE = {"quote", "correction_quote", "source_said", "what_is_wrong", "outcome", "title", "population", "finding"}


def table_columns(columns: list[str]) -> list[Column]:
    """The visible columns: a label column links to its page through its ``*_iri`` column
    (``site`` through ``iri``, ``phase`` through ``phase_iri``), which is then not shown.

    >>> [(c.name, c.link) for c in table_columns(["site", "iri", "phase", "phase_iri", "sources"])]
    [('site', 'iri'), ('phase', 'phase_iri'), ('sources', None)]
    """
    links: dict[str, str] = {}
    for column in columns:
        if column.endswith("_iri") and column[:-4] in columns:
            links[column[:-4]] = column
    if "iri" in columns and columns and columns[0] != "iri" and columns[0] not in links:
        links[columns[0]] = "iri"
    hidden = set(links.values())
    return [
        Column(c, c.replace("_", " "), links.get(c), c in _WIDE)
        for c in columns
        if c not in hidden
    ]


@dataclass
class NamedAnswer:
    name: str
    info: NamedQueryInfo
    params: dict[str, Any]
    columns: list[str]
    rows: list[dict[str, Any]]
    sources: list[str]
    elapsed_ms: float

    @property
    def table(self) -> list[Column]:
        return table_columns(self.columns)


def unknown_query(name: str, known: Iterable[str]) -> ProtocolError:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = ": did you mean " + ", ".join(repr(c) for c in close) + "?" if close else ""
    return ProtocolError(404, "unknown-query", f"no named query {name!r}{hint}", suggestions=close, known=sorted(known))


def run_named(kg: Any, name: str, params: dict[str, str]) -> NamedAnswer:
    """Run a named query with parameters given as text (resolved by the knowledge graph)."""
    queries = named_queries(kg)
    if name not in queries:
        raise unknown_query(name, queries)
    info = queries[name]
    known = {p.name for p in info.params}
    for key in params:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.5)
            hint = ": did you mean " + ", ".join(repr(c) for c in close) + "?" if close else ""
            raise ProtocolError(
                400, "unknown-parameter",
                f"the query {name!r} has no parameter {key!r}{hint} (its parameters: {', '.join(sorted(known)) or 'none'})",
                parameter=key, suggestions=close, known=sorted(known),
            )
    start = time.perf_counter()
    try:
        result = kg.query(name, **params)
    except UnknownTermError as e:
        parameter = next((k for k, v in params.items() if v.strip() == e.name), None)
        raise ProtocolError(
            400, "unknown-term", e.message, parameter=parameter, kind=e.kind, value=e.name, suggestions=e.suggestions
        ) from None
    except (QueryError, EmdkgError, TypeError) as e:
        message = getattr(e, "message", None) or str(e)
        raise ProtocolError(400, "bad-parameters", message) from None
    elapsed = (time.perf_counter() - start) * 1000
    columns, rows = _rows_and_columns(result)
    if info.columns:
        columns = list(info.columns)
    kinds = {p.name: p.kind for p in info.params}
    resolved = {
        key: (_resolve_param(kg, value, kinds.get(key) or None) or {"value": value}) for key, value in params.items()
    }
    return NamedAnswer(name, info, resolved, columns, rows, _sources(rows), elapsed)


# --- routes: pages ----------------------------------------------------------------------------


_STATS = """PREFIX emdkg: <https://w3id.org/emdkg/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?kind (COUNT(DISTINCT ?x) AS ?n) WHERE {
  { ?x a/rdfs:subClassOf* emdkg:Finding . BIND("findings" AS ?kind) }
  UNION { ?x a/rdfs:subClassOf* emdkg:Publication . BIND("publications" AS ?kind) }
  UNION { ?x a emdkg:FlaggedClaim . BIND("flagged" AS ?kind) }
  UNION { ?x rdfs:subClassOf+ emdkg:Disease . BIND("diseases" AS ?kind) }
}
GROUP BY ?kind
"""

_DISEASES = """PREFIX emdkg: <https://w3id.org/emdkg/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?d ?label ?parent (COUNT(DISTINCT ?f) AS ?findings) WHERE {
  ?d rdfs:subClassOf+ emdkg:Disease ; rdfs:subClassOf ?parent ; rdfs:label ?label .
  FILTER(isIRI(?parent) && langMatches(lang(?label), "en"))
  OPTIONAL { ?f emdkg:disease ?d }
}
GROUP BY ?d ?label ?parent
"""


def _disease_tree(store: Any) -> list[dict[str, Any]]:
    rows = store.select(_DISEASES)
    nodes: dict[str, dict[str, Any]] = {}
    parents: dict[str, set[str]] = {}
    for row in rows:
        iri = str(row["d"])
        node = nodes.setdefault(iri, {"iri": iri, "label": str(row["label"]), "findings": int(row["findings"]), "children": []})
        node["findings"] = max(node["findings"], int(row["findings"]))
        parents.setdefault(iri, set()).add(str(row["parent"]))
    roots = []
    for iri, node in nodes.items():
        tree_parents = [p for p in parents[iri] if p in nodes]
        if tree_parents:
            nodes[sorted(tree_parents)[0]]["children"].append(node)
        else:
            roots.append(node)

    def order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for item in items:
            item["children"] = order(item["children"])
        return sorted(items, key=lambda n: n["label"].lower())

    return order(roots)


async def home(request: Request) -> Response:
    store = request.app.state.store
    kg = request.app.state.kg

    def load() -> tuple[dict[str, int], list[dict[str, Any]]]:
        stats = {str(r["kind"]): int(r["n"]) for r in store.select(_STATS)}
        return stats, _disease_tree(store)

    stats, diseases = await in_pool(request, load)
    known = named_queries(kg)
    examples = [e for e in EXAMPLES if not known or e.query in known]
    return render(request, "home.html", {"examples": examples, "stats": stats, "diseases": diseases, "q": ""})


async def search_page(request: Request) -> Response:
    text = request.query_params.get("q", "").strip()[:200]
    store = request.app.state.store
    kg = request.app.state.kg

    def find() -> tuple[list[data.SearchHit], dict[str, Any] | None]:
        best = _resolve_param(kg, text) if text else None
        if best is None and text:
            iri = expand(text)
            if iri is not None and data.entity_info(store, iri) is not None:
                best = {"value": text, "iri": str(iri), "curie": curie(str(iri)), "label": data.english_label(store, iri)}
        return (data.search(store, text) if text else []), best

    hits, best = await in_pool(request, find)
    if best is not None:
        hits = [h for h in hits if h.iri != best["iri"]]
        if not best.get("label"):
            best["label"] = await in_pool(request, lambda: data.english_label(store, best["iri"]))
    return render(request, "search.html", {"q": text, "hits": hits, "best": best})


async def _find_entity(request: Request, ref: str) -> str:
    """The IRI a /entity/ reference names (a CURIE, a slug, an IRI, a synonym); 404 if none."""
    store = request.app.state.store
    kg = request.app.state.kg
    candidates = []
    iri = expand(ref)
    if iri is not None:
        candidates.append(str(iri))
    if re.fullmatch(r"[\w.\-]+", ref):
        candidates += [EMDKG + ref, KB + ref]

    def find() -> tuple[str | None, list[data.SearchHit]]:
        for candidate in candidates:
            if data.entity_info(store, candidate) is not None:
                return candidate, []
        resolved = _resolve_param(kg, ref)
        if resolved is not None:
            return resolved["iri"], []
        hits = data.search(store, ref, limit=5)
        if hits and hits[0].score == 0:  # an exact label, synonym, CURIE mapping, DOI or PMID
            return hits[0].iri, []
        return None, hits or data.search(store, ref.replace("-", " ").replace("_", " "), limit=5)

    found, suggestions = await in_pool(request, find)
    if found is None:
        raise _NotFound(ref, suggestions)
    return found


class _NotFound(Exception):
    def __init__(self, ref: str, suggestions: list[data.SearchHit]) -> None:
        self.ref = ref
        self.suggestions = suggestions


async def entity_page(request: Request) -> Response:
    ref = request.path_params["ref"] or request.query_params.get("iri", "")
    if not ref:
        return RedirectResponse("/", status_code=303)
    try:
        iri = await _find_entity(request, ref)
    except _NotFound as e:
        return render(request, "not_found.html", {"ref": e.ref, "suggestions": e.suggestions}, status_code=404)
    canonical = entity_href(iri)
    if request.url.path + (f"?{request.url.query}" if request.url.query else "") != canonical:
        return RedirectResponse(canonical, status_code=308 if request.method == "GET" else 307)
    store = request.app.state.store

    def load() -> dict[str, Any]:
        info = data.entity_info(store, iri)
        findings = data.findings_about(store, iri)
        errors = [e for e in data.source_errors(store) if iri in e.related]
        own = data.one_finding(store, iri) if info and info.kind in ("finding", "flagged source claim") else None
        cells = data.site_matrix(store, iri) if info and info.kind == "disease" else []
        return {"info": info, "findings": findings, "errors": errors, "own": own, "cells": cells}

    loaded = await in_pool(request, load)
    info = loaded["info"]
    if info is None:
        return render(request, "not_found.html", {"ref": ref, "suggestions": []}, status_code=404)
    findings = [f for f in loaded["findings"] if not f.flagged]
    flagged = [f for f in loaded["findings"] if f.flagged]
    groups = data.findings_by_phase(findings)
    figure = heatmap_svg(loaded["cells"], title=info.label, href=entity_href) if loaded["cells"] else ""
    return render(
        request,
        "entity.html",
        {
            "info": info,
            "groups": groups,
            "count": len(findings),
            "flagged": flagged,
            "errors": loaded["errors"],
            "own": loaded["own"],
            "figure": figure,
        },
    )


async def sites_figure(request: Request) -> Response:
    ref = request.query_params.get("disease", "")
    if not ref:
        raise HTTPException(400, "give the disease: /figures/sites.svg?disease=multiple+myeloma")
    try:
        iri = await _find_entity(request, ref)
    except _NotFound:
        raise HTTPException(404, f"no disease {ref!r}") from None
    store = request.app.state.store
    cells = await in_pool(request, lambda: data.site_matrix(store, iri))
    label = await in_pool(request, lambda: data.english_label(store, iri))
    if not cells:
        raise HTTPException(404, f"no site involvement findings for {label}")
    svg = heatmap_svg(cells, title=label, href=entity_href)
    return Response(svg, media_type="image/svg+xml")


async def errors_page(request: Request) -> Response:
    store = request.app.state.store
    errors = await in_pool(request, lambda: data.source_errors(store))
    return render(request, "errors.html", {"errors": errors})


async def query_page(request: Request) -> Response:
    runner = request.app.state.runner
    params = dict(request.query_params)
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/x-www-form-urlencoded":
            raise HTTPException(415, "the query form posts application/x-www-form-urlencoded")
        body = await request.body()
        try:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise HTTPException(400, "the form is not UTF-8") from None
    example = params.get("example")
    text = params.get("query")
    if text is None:
        key = example if example in SPARQL_EXAMPLES else "sites-relapse"
        text = SPARQL_EXAMPLES[key][1]
    context: dict[str, Any] = {
        "query": text,
        "examples": SPARQL_EXAMPLES,
        "result": None,
        "error": None,
        "ran": False,
        "prefixes": PREFIXES,
        "max_results": runner.max_results,
        "timeout": runner.timeout,
    }
    if "query" in params:
        context["ran"] = True
        start = time.perf_counter()
        try:
            result = await runner.evaluate(text)
        except ProtocolError as e:
            context["error"] = e
            return render(request, "query.html", context, status_code=e.status)
        context["elapsed_ms"] = (time.perf_counter() - start) * 1000
        context["result"] = result
        if isinstance(result, SelectResult):
            context["rows"] = plain_rows(result)
        elif hasattr(result, "triples"):
            context["triples"] = [
                [_term_view(t.subject), _term_view(t.predicate), _term_view(t.object)] for t in result.triples
            ]
        formats = {"solutions": ("json", "xml", "csv", "tsv"), "boolean": ("json", "xml"), "graph": ("turtle", "ntriples", "jsonld")}
        context["links"] = {fmt: "/sparql?" + urlencode({"query": text, "format": fmt}) for fmt in formats[result.kind]}
    return render(request, "query.html", context)


def _term_view(term: Any) -> dict[str, Any]:
    return cell_view(term_json(term))


async def named_page(request: Request) -> Response:
    name = request.path_params["name"]
    kg = request.app.state.kg
    params = {k: v for k, v in request.query_params.items() if v.strip()}
    try:
        answer = await in_pool(request, lambda: run_named(kg, name, params))
    except ProtocolError as e:
        queries = named_queries(kg)
        info = queries.get(name)
        return render(
            request, "named.html",
            {"name": name, "info": info, "answer": None, "error": e, "given": params, "title": _title_for(name, params)},
            status_code=e.status,
        )
    return render(
        request, "named.html",
        {"name": name, "info": answer.info, "answer": answer, "error": None, "given": params, "title": _title_for(name, params)},
    )


def _title_for(name: str, params: dict[str, str]) -> str:
    for example in EXAMPLES:
        if example.query == name and dict(example.params) == params:
            return example.title
    if params:
        return f"{name}: " + ", ".join(f"{k} = {v}" for k, v in params.items())
    return name


# --- routes: JSON -----------------------------------------------------------------------------


async def api_queries(request: Request) -> Response:
    kg = request.app.state.kg
    queries = named_queries(kg)
    body = [
        {
            "name": q.name,
            "summary": q.summary,
            "description": q.description,
            "params": [
                {"name": p.name, "description": p.description, "required": p.required, **({"kind": p.kind} if p.kind else {})}
                for p in q.params
            ],
            "example": q.example,
            "href": f"/api/queries/{quote(q.name)}",
        }
        for q in queries.values()
    ]
    return JSONResponse({"queries": body})


async def api_query(request: Request) -> Response:
    name = request.path_params["name"]
    kg = request.app.state.kg
    params = {k: v for k, v in request.query_params.items()}
    if any(len(request.query_params.getlist(k)) > 1 for k in params):
        raise ProtocolError(400, "bad-parameters", "each parameter may be given once")
    answer = await in_pool(request, lambda: run_named(kg, name, params))
    return JSONResponse(
        {
            "query": answer.name,
            "params": answer.params,
            "columns": answer.columns,
            "rows": [{k: _plain(v) for k, v in row.items()} for row in answer.rows],
            "count": len(answer.rows),
            "sources": answer.sources,
            "elapsed_ms": round(answer.elapsed_ms, 3),
        }
    )


async def api_search(request: Request) -> Response:
    text = request.query_params.get("q", "").strip()[:200]
    try:
        limit = max(1, min(50, int(request.query_params.get("limit", "10"))))
    except ValueError:
        raise ProtocolError(400, "bad-parameters", "limit must be a number") from None
    store = request.app.state.store
    hits = await in_pool(request, lambda: data.search(store, text, limit=limit)) if text else []
    return JSONResponse(
        {
            "q": text,
            "results": [
                {"iri": h.iri, "curie": h.curie, "label": h.label, "kind": h.kind, "matched": h.matched, "href": entity_href(h.iri)}
                for h in hits
            ],
        }
    )


async def health(request: Request) -> Response:
    runner = request.app.state.runner
    return JSONResponse({"status": "ok", "version": __version__, **runner.stats, "abandoned_now": runner.abandoned})
