"""Names to IRIs: labels, synonyms, CURIEs, DOIs/PMIDs and IRIs, checked against a kind.

A user names a term the way people do ("multiple myeloma", "MM", "MONDO:0009693",
``<https://w3id.org/emdkg/MultipleMyeloma>``); the query layer needs its IRI, and a *bound* IRI
at that: the text never becomes query text. :class:`TermIndex` answers from an index built by
**one** SPARQL query over the store (:data:`INDEX_QUERY`), cached per store by
:func:`index_for`.

What a text can be, tried in this order (all case-insensitive):

* an IRI, bare (``https://...``) or in angle brackets (``<https://...>``): the term itself, or
  the term that has it as ``skos:exactMatch`` (``http://purl.obolibrary.org/obo/MONDO_0009693``);
* a CURIE: ``emdkg:`` and ``kb:`` name our own terms; ``MONDO:``, ``UBERON:``, ``NCIT:``,
  ``DOID:``, ``CHEBI:``, ``DRUGBANK:``, ``MAXO:``, ``ECO:``, ``MESH:`` (and any other prefix a
  term lists) are looked up in ``oboInOwl:hasDbXref`` and ``skos:exactMatch``; ``doi:10.x/...``
  and ``pmid:123`` in ``bibo:doi`` and ``bibo:pmid``; a bare ``10.x/...`` is a DOI;
* a name: an English label, an exact or related synonym (``oboInOwl``), or a label in another
  language; a publication also by first author and year ("Yoon 2020", "Yoon et al. 2020").
  The best match wins: an English label before a synonym before another language;
  when a name is both a class and an individual (the procedure class "intrathecal
  chemotherapy" and the procedure given to patients), the individual wins, since findings
  refer to it.

A *kind* restricts the answer (:data:`KINDS`): a ``disease`` is ``emdkg:Disease`` or a subclass,
a ``phase`` a subclass of ``emdkg:DiseasePhase``, a ``therapy`` an individual of a subclass of
``emdkg:Therapy``, and so on; ``entity`` is anything with a name. A text that names nothing of
the kind raises :class:`~emdkg.errors.UnknownTermError` with up to three close names.

>>> from emdkg.store import load_files
>>> from emdkg.resources import bundled_rdf_files
>>> index = index_for(load_files(bundled_rdf_files()))
>>> index.resolve("MM", "disease").iri
IRI('https://w3id.org/emdkg/MultipleMyeloma')
>>> index.resolve("mondo:0009693").label
'multiple myeloma'
>>> index.resolve("relapsed", "phase").curie
'emdkg:Relapse'
>>> index.resolve("multiple myelom", "disease")
Traceback (most recent call last):
...
emdkg.errors.UnknownTermError: unknown disease 'multiple myelom': did you mean 'multiple myeloma'?
>>> index.resolve("skin", "disease")
Traceback (most recent call last):
...
emdkg.errors.UnknownTermError: unknown disease 'skin'
"""

from __future__ import annotations

import difflib
import re
import unicodedata
import weakref
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from emdkg.errors import EmdkgError, UnknownTermError
from emdkg.values import IRI

__all__ = [
    "EMDKG",
    "KB",
    "OBO",
    "KINDS",
    "Term",
    "TermIndex",
    "INDEX_QUERY",
    "index_for",
    "curie",
    "expand_curie",
    "normalise",
]

EMDKG = "https://w3id.org/emdkg/"
KB = "https://w3id.org/emdkg/kb/"
OBO = "http://purl.obolibrary.org/obo/"

#: kind -> (how a term belongs to it, the root class). "class": the term is the root or a
#: subclass of it; "individual": the term is an instance of the root or of a subclass.
#: ``entity`` (anything with a name) is not listed: every indexed term is an entity.
KINDS: dict[str, tuple[str, str]] = {
    "disease": ("class", EMDKG + "Disease"),
    "site": ("class", EMDKG + "AnatomicalSite"),
    "phase": ("class", EMDKG + "DiseasePhase"),
    "treatment_phase": ("class", EMDKG + "TreatmentPhase"),
    "manifestation": ("class", EMDKG + "DiseaseManifestation"),
    "therapy": ("individual", EMDKG + "Therapy"),
    "regimen": ("individual", EMDKG + "Regimen"),
    "publication": ("individual", EMDKG + "Publication"),
}
ALL_KINDS = ("entity", *KINDS)

# Prefixes whose CURIEs we expand ourselves; OBO-style prefixes (MONDO, ECO, ...) expand to
# http://purl.obolibrary.org/obo/PREFIX_local.
_PREFIXES = {
    "emdkg": EMDKG,
    "kb": KB,
    "drugbank": "https://go.drugbank.com/drugs/",
    "mesh": "http://id.nlm.nih.gov/mesh/",
    "obo": OBO,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "cito": "http://purl.org/spar/cito/",
    "bibo": "http://purl.org/ontology/bibo/",
    "dcterms": "http://purl.org/dc/terms/",
    "oboinowl": "http://www.geneontology.org/formats/oboInOwl#",
}
_CURIE_NAMES = {  # IRI namespace -> how we write the prefix
    EMDKG: "emdkg",
    KB: "kb",
    "https://go.drugbank.com/drugs/": "DRUGBANK",
    "http://id.nlm.nih.gov/mesh/": "MESH",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf",
    "http://www.w3.org/2000/01/rdf-schema#": "rdfs",
    "http://www.w3.org/2002/07/owl#": "owl",
    "http://www.w3.org/2001/XMLSchema#": "xsd",
    "http://www.w3.org/2004/02/skos/core#": "skos",
    "http://purl.org/spar/cito/": "cito",
    "http://purl.org/ontology/bibo/": "bibo",
    "http://purl.org/dc/terms/": "dcterms",
    "http://www.geneontology.org/formats/oboInOwl#": "oboInOwl",
}
_OBO_ID = re.compile(r"([A-Za-z][A-Za-z0-9]*)_([A-Za-z0-9]+)")

# Match quality of a name, best first.
_RANK = {"label@en": 0, "exact": 1, "related": 2, "label": 3}

#: The one query the index is built from: every name and identifier of every IRI, and the
#: kinds (:data:`KINDS`) each term belongs to. ``?how`` says what ``?value`` is.
INDEX_QUERY = """\
PREFIX emdkg: <https://w3id.org/emdkg/>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX bibo: <http://purl.org/ontology/bibo/>
PREFIX oboInOwl: <http://www.geneontology.org/formats/oboInOwl#>

SELECT ?term ?how ?value WHERE {
  {
    VALUES (?property ?how) {
      (rdfs:label "label") (oboInOwl:hasExactSynonym "exact") (oboInOwl:hasRelatedSynonym "related")
      (oboInOwl:hasDbXref "xref") (skos:exactMatch "match") (bibo:doi "doi") (bibo:pmid "pmid")
    }
    ?term ?property ?value .
  } UNION {
    VALUES ?value { emdkg:Disease emdkg:AnatomicalSite emdkg:DiseasePhase emdkg:TreatmentPhase
                    emdkg:DiseaseManifestation }
    ?term rdfs:subClassOf* ?value .
    BIND("class" AS ?how)
  } UNION {
    VALUES ?value { emdkg:Therapy emdkg:Regimen emdkg:Publication }
    ?term rdf:type/rdfs:subClassOf* ?value .
    BIND("individual" AS ?how)
  } UNION {
    ?term rdf:type owl:Class .
    BIND("owl-class" AS ?how)
  } UNION {
    VALUES (?property ?how) { (emdkg:firstAuthor "first-author") (emdkg:year "year") }
    ?term ?property ?value .
  }
  FILTER(isIRI(?term))
}
"""


def normalise(text: str) -> str:
    """The form names are compared in: NFKC, case-folded, whitespace collapsed.

    >>> normalise("  Multiple\\tMYELOMA ")
    'multiple myeloma'
    """
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def curie(iri: str) -> str:
    """The compact form of an IRI when we know its namespace, else the IRI itself.

    >>> curie("https://w3id.org/emdkg/Relapse"), curie("http://purl.obolibrary.org/obo/MONDO_0009693")
    ('emdkg:Relapse', 'MONDO:0009693')
    >>> curie("https://w3id.org/emdkg/kb/yoon-2020")
    'kb:yoon-2020'
    """
    if iri.startswith(OBO):
        match = _OBO_ID.fullmatch(iri[len(OBO):])
        if match:
            return f"{match.group(1)}:{match.group(2)}"
    for namespace, prefix in sorted(_CURIE_NAMES.items(), key=lambda item: -len(item[0])):
        local = iri[len(namespace):]
        if iri.startswith(namespace) and local and "/" not in local and "#" not in local:
            return f"{prefix}:{local}"
    return iri


def expand_curie(text: str) -> str | None:
    """The IRI a CURIE stands for, or None when the prefix is not one we expand.

    >>> expand_curie("emdkg:DiseasePhase"), expand_curie("MONDO:0009693")
    ('https://w3id.org/emdkg/DiseasePhase', 'http://purl.obolibrary.org/obo/MONDO_0009693')
    >>> expand_curie("doi:10.1/x") is None
    True
    """
    prefix, sep, local = text.partition(":")
    if not sep or not local or local.startswith("//"):
        return None
    namespace = _PREFIXES.get(prefix.lower())
    if namespace is not None:
        return namespace + local
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", prefix) and prefix.upper() == prefix and prefix.lower() not in ("doi", "pmid"):
        return f"{OBO}{prefix}_{local}"
    return None


@dataclass(frozen=True)
class Term:
    """A resolved term: its IRI, English label, kind and compact name.

    ``kind`` is the kind it was resolved as, or its most specific kind when none was asked.
    """

    iri: IRI
    label: str | None
    kind: str
    curie: str

    def __str__(self) -> str:
        return self.label or self.curie


_URI_START = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:(//|[^\s]*$)")
_CURIE_RE = re.compile(r"([A-Za-z][A-Za-z0-9_.\-]*):(\S+)")
_BARE_DOI = re.compile(r"10\.\d{2,9}/\S+")


class TermIndex:
    """Names, identifiers and kinds of every term of a store, from :data:`INDEX_QUERY`."""

    def __init__(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._names: dict[str, list[tuple[int, str]]] = defaultdict(list)  # key -> (rank, iri)
        self._ids: dict[str, set[str]] = defaultdict(set)  # normalised id/IRI/CURIE -> iris
        self._kinds: dict[str, set[str]] = defaultdict(set)
        self._classes: set[str] = set()
        self._labels: dict[str, tuple[int, str]] = {}  # iri -> (preference, label)
        self._terms: set[str] = set()
        self._authors: dict[str, str] = {}
        self._years: dict[str, str] = {}
        for row in rows:
            self._add(str(row["term"]), str(row["how"]), row["value"])
        for term, author in self._authors.items():  # "Yoon 2020", "Yoon et al. 2020"
            year = self._years.get(term)
            surname = " ".join(author.split()[:-1]) or author
            if year and term in self._terms:
                for name in (f"{surname} {year}", f"{surname} et al. {year}"):
                    self._names[normalise(name)].append((_RANK["exact"], term))
        for iri in self._terms:
            self._ids[normalise(iri)].add(iri)
            self._ids[normalise(curie(iri))].add(iri)
        self._names = dict(self._names)
        self._ids = dict(self._ids)
        self._display: dict[str, list[tuple[str, str]]] = {}  # kind -> (name key, iri), cached
        self._resolved: dict[tuple[str, str], Term] = {}  # (text, kind) -> answer, cached

    def _add(self, term: str, how: str, value: Any) -> None:
        if how == "class" or how == "individual":
            for kind, (relation, root) in KINDS.items():
                if relation == how and str(value) == root:
                    self._kinds[term].add(kind)
            return
        if how == "owl-class":
            self._classes.add(term)
            return
        if how == "first-author":
            self._authors[term] = str(value)
            return
        if how == "year":
            self._years[term] = str(value)
            return
        self._terms.add(term)
        text = str(value)
        if how in ("label", "exact", "related"):
            lang = getattr(value, "lang", None)
            english = lang is None or lang == "en" or lang.startswith("en-")
            if how == "label":
                rank = _RANK["label@en"] if english else _RANK["label"]
            else:
                rank = _RANK[how]
            self._names[normalise(text)].append((rank, term))
            if how == "label":
                preference = 0 if lang == "en" else 1 if lang is None else 2
                current = self._labels.get(term)
                if current is None or (preference, text) < current:
                    self._labels[term] = (preference, text)
        elif how == "xref":
            self._ids[normalise(text)].add(term)
        elif how == "match":
            self._ids[normalise(text)].add(term)
            self._ids[normalise(curie(text))].add(term)
        elif how == "doi":
            self._ids["doi:" + normalise(text)].add(term)
        elif how == "pmid":
            self._ids["pmid:" + normalise(text)].add(term)

    # -- lookups ---------------------------------------------------------------------------

    def label(self, iri: str) -> str | None:
        """The English label of ``iri`` (else a plain or other-language one), or None."""
        found = self._labels.get(iri)
        return None if found is None else found[1]

    def kinds(self, iri: str) -> set[str]:
        """The kinds ``iri`` belongs to (``entity`` included when it has a name or an id)."""
        kinds = set(self._kinds.get(iri, ()))
        if iri in self._terms:
            kinds.add("entity")
        return kinds

    def has_kind(self, iri: str, kind: str) -> bool:
        if kind == "entity":
            return iri in self._terms or iri in self._kinds
        return kind in self._kinds.get(iri, ())

    def term(self, iri: str, kind: str | None = None) -> Term:
        """The :class:`Term` for a known IRI."""
        return Term(IRI(iri), self.label(iri), kind or self._main_kind(iri), curie(iri))

    def _main_kind(self, iri: str) -> str:
        kinds = self._kinds.get(iri, set())
        for kind in ("disease", "site", "phase", "treatment_phase", "manifestation", "regimen",
                     "therapy", "publication"):
            if kind in kinds:
                return kind
        return "entity"

    def _candidates(self, text: str) -> list[tuple[int, str]]:
        """(rank, iri) pairs ``text`` may name, before the kind check."""
        found: list[tuple[int, str]] = []
        stripped = text.strip()
        key = normalise(stripped)
        if stripped.startswith("<") and stripped.endswith(">"):
            inner = stripped[1:-1].strip()
            return [(-1, iri) for iri in sorted(self._iri_matches(inner))]
        if _URI_START.match(stripped) and "://" in stripped or stripped.lower().startswith("urn:"):
            found.extend((-1, iri) for iri in sorted(self._iri_matches(stripped)))
        match = _CURIE_RE.fullmatch(stripped)
        if match:
            found.extend((-1, iri) for iri in sorted(self._ids.get(key, ())))
            expanded = expand_curie(stripped)
            if expanded is not None:
                found.extend((-1, iri) for iri in sorted(self._iri_matches(expanded)))
        if _BARE_DOI.fullmatch(stripped):
            found.extend((-1, iri) for iri in sorted(self._ids.get("doi:" + key, ())))
        found.extend(self._names.get(key, ()))
        return found

    def _iri_matches(self, iri: str) -> set[str]:
        if iri in self._terms or iri in self._kinds:
            return {iri}
        return set(self._ids.get(normalise(iri), ()))

    def resolve(self, text: str, kind: str | None = None) -> Term:
        """The term ``text`` names, of ``kind`` (default ``entity``: anything with a name).

        Raises :class:`~emdkg.errors.UnknownTermError` (with close names) when there is none.
        """
        kind = kind or "entity"
        if kind not in ALL_KINDS:
            raise EmdkgError(f"unknown kind of term {kind!r} (one of: {', '.join(ALL_KINDS)})")
        if isinstance(text, Term):
            text = text.iri
        if not isinstance(text, str):
            raise UnknownTermError(_kind_name(kind), repr(text))
        cached = self._resolved.get((text, kind))
        if cached is not None:
            return cached
        candidates = [(rank, iri) for rank, iri in self._candidates(text) if self.has_kind(iri, kind)]
        if not candidates:
            raise UnknownTermError(_kind_name(kind), text.strip(), self.suggest(text, kind))
        rank, iri = min(candidates, key=lambda c: (c[0], c[1] in self._classes, c[1]))
        term = self.term(iri, None if kind == "entity" else kind)
        if len(self._resolved) >= 4096:
            self._resolved.clear()
        self._resolved[(text, kind)] = term
        return term

    def suggest(self, text: str, kind: str = "entity", n: int = 3) -> list[str]:
        """Up to ``n`` names of terms of ``kind`` closest to ``text``, best first."""
        key = normalise(text)[:200]
        if not key:
            return []
        names = self._names_of(kind)
        matcher = difflib.SequenceMatcher()
        matcher.set_seq2(key)
        best: dict[str, float] = {}
        for name, iri in names:
            matcher.set_seq1(name)
            if matcher.real_quick_ratio() < 0.6 or matcher.quick_ratio() < 0.6:
                continue
            score = matcher.ratio()
            if score >= 0.6 and score > best.get(iri, 0.0):
                best[iri] = score
        if not best and len(key) >= 3:  # a fragment of a longer name: "myelo" -> multiple myeloma
            for name, iri in names:
                if key in name:
                    best[iri] = max(best.get(iri, 0.0), len(key) / len(name))
        ranked = sorted(best, key=lambda iri: (-best[iri], self.label(iri) or iri))
        out: list[str] = []
        for iri in ranked:
            shown = self.label(iri) or curie(iri)
            if shown not in out:
                out.append(shown)
            if len(out) == n:
                break
        return out

    def _names_of(self, kind: str) -> list[tuple[str, str]]:
        if kind not in self._display:
            self._display[kind] = sorted(
                (name, iri)
                for name, entries in self._names.items()
                for _, iri in entries
                if self.has_kind(iri, kind)
            )
        return self._display[kind]

    def __len__(self) -> int:
        return len(self._terms)


def _kind_name(kind: str) -> str:
    return kind.replace("_", " ")


_INDEXES: weakref.WeakKeyDictionary[Any, TermIndex] = weakref.WeakKeyDictionary()


def index_for(store: Any, *, refresh: bool = False) -> TermIndex:
    """The :class:`TermIndex` of ``store``: built by one query on first use, then cached.

    The cache is per store object; pass ``refresh=True`` after loading more data into it.
    """
    if not refresh:
        try:
            return _INDEXES[store]
        except (KeyError, TypeError):
            pass
    index = TermIndex(store.select(INDEX_QUERY))
    try:
        _INDEXES[store] = index
    except TypeError:  # a store that cannot be weakly referenced: no cache
        pass
    return index
