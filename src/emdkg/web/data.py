"""What the pages show, read from any :class:`~emdkg.store.Store` with bound parameters.

Every query here binds its parameters as RDF terms (never pasted into the text) and follows
the portability rules of :mod:`emdkg.store`, so the pages work over the embedded store and a
remote endpoint alike. The functions return plain dataclasses the templates render.

>>> import emdkg
>>> from emdkg.store import load_files
>>> from emdkg.resources import bundled_rdf_files
>>> store = load_files(bundled_rdf_files())
>>> info = entity_info(store, IRI(EMDKG + "MultipleMyeloma"))
>>> info.label, info.kind
('multiple myeloma', 'disease')
>>> groups = findings_by_phase(findings_about(store, info.iri))
>>> [g.label for g in groups][:2]
['at diagnosis', 'relapse']
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from emdkg.values import IRI, LangString

__all__ = [
    "EMDKG",
    "KB",
    "curie",
    "expand",
    "EntityInfo",
    "Finding",
    "PhaseGroup",
    "SourceRef",
    "SourceError",
    "SiteCell",
    "entity_info",
    "findings_about",
    "findings_by_phase",
    "site_matrix",
    "source_errors",
    "search",
]

EMDKG = "https://w3id.org/emdkg/"
KB = "https://w3id.org/emdkg/kb/"
OBO = "http://purl.obolibrary.org/obo/"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
OWL = "http://www.w3.org/2002/07/owl#"
OBOINOWL = "http://www.geneontology.org/formats/oboInOwl#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCTERMS = "http://purl.org/dc/terms/"
BIBO = "http://purl.org/ontology/bibo/"
CITO = "http://purl.org/spar/cito/"

#: CURIE prefixes for display and for /entity/{curie} (longest namespace first when shortening).
CURIE_PREFIXES: dict[str, str] = {
    "kb": KB,
    "emdkg": EMDKG,
    "obo": OBO,
    "rdfs": RDFS,
    "rdf": RDF,
    "owl": OWL,
    "oboInOwl": OBOINOWL,
    "skos": SKOS,
    "dcterms": DCTERMS,
    "bibo": BIBO,
    "cito": CITO,
    "mesh": "http://id.nlm.nih.gov/mesh/",
}

_PREFIX_BLOCK = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in CURIE_PREFIXES.items())

#: The top classes that say what kind of thing an entity is, in the order they are tried.
KINDS: list[tuple[str, str]] = [
    (EMDKG + "FlaggedClaim", "flagged source claim"),
    (EMDKG + "Finding", "finding"),
    (EMDKG + "ProgrammeOffering", "programme offering"),
    (EMDKG + "Disease", "disease"),
    (EMDKG + "DiseaseManifestation", "manifestation"),
    (EMDKG + "AnatomicalSite", "anatomical site"),
    (EMDKG + "DiseasePhase", "disease phase"),
    (EMDKG + "TreatmentPhase", "treatment phase"),
    (EMDKG + "Therapy", "therapy"),
    (EMDKG + "ClinicalFeature", "clinical feature"),
    (EMDKG + "RiskFactor", "risk factor"),
    (EMDKG + "MolecularTarget", "molecular target"),
    (EMDKG + "Publication", "publication"),
    (EMDKG + "SourceDocument", "source document"),
    (EMDKG + "Organization", "organization"),
    (EMDKG + "ValueSetMember", "value"),
    (OBO + "ECO_0000000", "evidence code"),
]
_KIND_ORDER = {iri: i for i, (iri, _) in enumerate(KINDS)}
_KIND_LABEL = dict(KINDS)


def curie(iri: str) -> str:
    """The CURIE of an IRI in a namespace we know, else the IRI itself.

    >>> curie(EMDKG + "MultipleMyeloma"), curie(KB + "blade-2022"), curie("https://x.org/y")
    ('emdkg:MultipleMyeloma', 'kb:blade-2022', 'https://x.org/y')
    >>> curie(OBO + "ECO_0000304")
    'ECO:0000304'
    """
    if iri.startswith(OBO):
        local = iri[len(OBO):]
        match = re.fullmatch(r"([A-Za-z]+)_(\w+)", local)
        if match:
            return f"{match.group(1)}:{match.group(2)}"
    for prefix, namespace in CURIE_PREFIXES.items():
        if iri.startswith(namespace) and "/" not in iri[len(namespace):] and "#" not in iri[len(namespace):]:
            return f"{prefix}:{iri[len(namespace):]}"
    return iri


def expand(text: str) -> IRI | None:
    """The IRI of a CURIE we know (``emdkg:``, ``kb:``, ``ECO:...``), or of a full IRI; else None.

    >>> expand("emdkg:Relapse"), expand("ECO:0000304"), expand("no such")
    (IRI('https://w3id.org/emdkg/Relapse'), IRI('http://purl.obolibrary.org/obo/ECO_0000304'), None)
    """
    if re.fullmatch(r"https?://[^<>\"{}|^`\\\s]+", text):
        return IRI(text)
    prefix, sep, local = text.partition(":")
    if not sep or not local or not re.fullmatch(r"[\w.\-]+", local):
        return None
    if prefix in CURIE_PREFIXES:
        return IRI(CURIE_PREFIXES[prefix] + local)
    if re.fullmatch(r"[A-Za-z]+", prefix) and prefix.upper() == prefix:
        return IRI(f"{OBO}{prefix}_{local}")
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _english(values: Iterable[Any]) -> str | None:
    """The English (or untagged, else any) text among ``values``."""
    best: tuple[int, str] | None = None
    for value in values:
        if value is None:
            continue
        lang = getattr(value, "lang", "")
        rank = 0 if lang in ("en", "") or lang.startswith("en-") else 1
        if best is None or rank < best[0]:
            best = (rank, str(value))
    return None if best is None else best[1]


# --- one entity -------------------------------------------------------------------------------


@dataclass
class Link:
    """An entity named on a page: its IRI, label and CURIE."""

    iri: str
    label: str

    @property
    def curie(self) -> str:
        return curie(self.iri)


@dataclass
class EntityInfo:
    """What a page says about one entity besides its findings."""

    iri: str
    label: str
    kind: str | None
    types: list[Link] = field(default_factory=list)
    labels: list[tuple[str, str]] = field(default_factory=list)  # (text, lang) of other labels
    definition: str | None = None
    definition_sources: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    synonyms: list[str] = field(default_factory=list)
    xrefs: list[str] = field(default_factory=list)
    parents: list[Link] = field(default_factory=list)
    children: list[Link] = field(default_factory=list)
    members: list[Link] = field(default_factory=list)
    components: list[Link] = field(default_factory=list)
    properties: list[tuple[str, str]] = field(default_factory=list)  # (name, value) of a publication
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None
    cites: list[Link] = field(default_factory=list)
    cited_by: list[Link] = field(default_factory=list)

    @property
    def curie(self) -> str:
        return curie(self.iri)

    @property
    def is_publication(self) -> bool:
        return self.kind == "publication"


_OUTGOING = _PREFIX_BLOCK + """
SELECT ?e ?p ?o ?olabel WHERE {
  ?e ?p ?o .
  OPTIONAL { ?o rdfs:label ?olabel }
}
"""

_INCOMING = _PREFIX_BLOCK + """
SELECT ?e ?p ?s ?slabel WHERE {
  VALUES ?p { rdfs:subClassOf rdf:type cito:cites emdkg:documentOf }
  ?s ?p ?e .
  OPTIONAL { ?s rdfs:label ?slabel }
}
"""

_KIND = _PREFIX_BLOCK + """
SELECT ?e ?top WHERE {
  { ?e rdfs:subClassOf* ?top } UNION { ?e rdf:type/rdfs:subClassOf* ?top }
}
"""


def kind_of(store: Any, iri: str) -> str | None:
    """What kind of thing ``iri`` is ("disease", "publication", "finding"...), or None."""
    tops = {str(row["top"]) for row in store.select(_KIND, {"e": IRI(iri)})}
    found = sorted((_KIND_ORDER[t], t) for t in tops if t in _KIND_ORDER)
    return _KIND_LABEL[found[0][1]] if found else None


def _links(pairs: Iterable[tuple[Any, Any]]) -> list[Link]:
    by_iri: dict[str, list[Any]] = defaultdict(list)
    for iri, label in pairs:
        if isinstance(iri, IRI):
            by_iri[str(iri)].append(label)
    links = [Link(iri, _english(labels) or curie(iri)) for iri, labels in by_iri.items()]
    return sorted(links, key=lambda link: link.label.lower())


def entity_info(store: Any, iri: str) -> EntityInfo | None:
    """Labels, definition, hierarchy, mappings and bibliographic data of ``iri``; None if unknown."""
    out_rows = store.select(_OUTGOING, {"e": IRI(iri)})
    in_rows = store.select(_INCOMING, {"e": IRI(iri)})
    if not out_rows and not in_rows:
        return None
    by_p: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
    for row in out_rows:
        by_p[str(row["p"])].append((row["o"], row["olabel"]))
    labels = [o for o, _ in by_p.get(RDFS + "label", [])]
    label = _english(labels) or curie(iri)
    info = EntityInfo(iri=iri, label=label, kind=kind_of(store, iri))
    seen_labels = {label}
    for o in labels:
        if str(o) not in seen_labels:
            info.labels.append((str(o), getattr(o, "lang", "")))
            seen_labels.add(str(o))
    info.types = [t for t in _links(by_p.get(RDF + "type", [])) if not t.iri.startswith(OWL)]
    info.definition = _english(o for o, _ in by_p.get(OBO + "IAO_0000115", []))
    info.definition_sources = sorted(str(o) for o, _ in by_p.get(OBO + "IAO_0000119", []))
    info.comments = sorted({str(o) for o, _ in by_p.get(RDFS + "comment", [])})
    synonyms: list[str] = []
    for prop in ("hasExactSynonym", "hasRelatedSynonym", "hasBroadSynonym", "hasNarrowSynonym"):
        synonyms += [str(o) for o, _ in by_p.get(OBOINOWL + prop, [])]
    info.synonyms = sorted(set(synonyms), key=str.lower)
    info.xrefs = sorted({str(o) for o, _ in by_p.get(OBOINOWL + "hasDbXref", [])})
    info.parents = _links(p for p in by_p.get(RDFS + "subClassOf", []) if isinstance(p[0], IRI))
    info.components = _links(by_p.get(EMDKG + "hasComponent", []))
    info.cites = _links(by_p.get(CITO + "cites", []))
    doi = by_p.get(BIBO + "doi")
    pmid = by_p.get(BIBO + "pmid")
    info.doi = str(doi[0][0]) if doi else None
    info.pmid = str(pmid[0][0]) if pmid else None
    for name, prop in (
        ("title", DCTERMS + "title"),
        ("authors", EMDKG + "authorList"),
        ("journal", EMDKG + "journal"),
        ("year", EMDKG + "year"),
        ("volume", BIBO + "volume"),
        ("issue", BIBO + "issue"),
        ("pages", BIBO + "pages"),
        ("published", EMDKG + "publicationDate"),
        ("language", EMDKG + "articleLanguage"),
    ):
        values = by_p.get(prop)
        if values:
            info.properties.append((name, _english(o for o, _ in values) or ""))
    incoming: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
    for row in in_rows:
        incoming[str(row["p"])].append((row["s"], row["slabel"]))
    info.children = _links(incoming.get(RDFS + "subClassOf", []))
    info.members = _links(incoming.get(RDF + "type", []))
    info.cited_by = _links(incoming.get(CITO + "cites", []))
    documents = [str(s) for s, _ in incoming.get(EMDKG + "documentOf", [])]
    if documents and not info.doi and not info.pmid:
        for document in documents:
            for row in store.select(_OUTGOING, {"e": IRI(document)}):
                if str(row["p"]) == EMDKG + "retrievedFrom":
                    info.url = str(row["o"])
    return info


# --- findings ---------------------------------------------------------------------------------


@dataclass
class SourceRef:
    """A finding's source publication and where to read it."""

    iri: str
    label: str
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None

    @property
    def curie(self) -> str:
        return curie(self.iri)

    @property
    def href(self) -> str | None:
        """The link to the paper: the DOI, else PubMed, else the page it was read from."""
        if self.doi:
            return "https://doi.org/" + self.doi
        if self.pmid:
            return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/"
        return self.url

    @property
    def pubmed_href(self) -> str | None:
        return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/" if self.pmid else None


@dataclass
class Finding:
    """One statement about an entity, with its evidence."""

    iri: str
    label: str
    type: Link | None
    roles: list[str]
    phase: Link | None
    treatment_phase: Link | None
    quotes: list[tuple[str, str]]  # (text, lang), English first
    evidence: Link | None
    grade: Link | None
    source: SourceRef | None
    subject: Link | None = None  # the disease, when it is a subclass of the page's entity
    flagged: bool = False

    @property
    def curie(self) -> str:
        return curie(self.iri)


_FINDINGS = _PREFIX_BLOCK + """
SELECT ?e ?f ?role ?sub ?subLabel ?type ?typeLabel ?label ?phase ?phaseLabel ?tphase ?tphaseLabel
       ?quote ?eco ?ecoLabel ?grade ?gradeLabel ?src ?srcLabel ?doi ?pmid ?url
WHERE {
  { ?f ?role ?e . BIND(?e AS ?sub) }
  UNION
  { ?sub rdfs:subClassOf+ ?e . ?f emdkg:disease ?sub . BIND(emdkg:disease AS ?role) }
  ?f a ?type .
  ?type rdfs:subClassOf* emdkg:Statement .
  OPTIONAL { ?sub rdfs:label ?subLabel }
  OPTIONAL { ?type rdfs:label ?typeLabel }
  OPTIONAL { ?f rdfs:label ?label }
  OPTIONAL { ?f emdkg:diseasePhase ?phase . OPTIONAL { ?phase rdfs:label ?phaseLabel } }
  OPTIONAL { ?f emdkg:treatmentPhase ?tphase . OPTIONAL { ?tphase rdfs:label ?tphaseLabel } }
  OPTIONAL { ?f emdkg:quote ?quote }
  OPTIONAL { ?f emdkg:evidenceCode ?eco . OPTIONAL { ?eco rdfs:label ?ecoLabel } }
  OPTIONAL { ?f emdkg:evidenceGrade ?grade . OPTIONAL { ?grade rdfs:label ?gradeLabel } }
  OPTIONAL {
    ?f emdkg:source ?src .
    OPTIONAL { ?src rdfs:label ?srcLabel }
    OPTIONAL { ?src bibo:doi ?doi }
    OPTIONAL { ?src bibo:pmid ?pmid }
    OPTIONAL { ?doc emdkg:documentOf ?src ; emdkg:retrievedFrom ?url }
  }
}
"""

_ROLE_NAMES = {
    EMDKG + "disease": "disease",
    EMDKG + "site": "site",
    EMDKG + "diseasePhase": "disease phase",
    EMDKG + "treatmentPhase": "treatment phase",
    EMDKG + "therapy": "therapy",
    EMDKG + "manifestation": "manifestation",
    EMDKG + "defines": "definition of",
    EMDKG + "source": "source",
    EMDKG + "claimedTherapy": "therapy the source named",
    EMDKG + "correctTherapy": "correct therapy",
    EMDKG + "correctedBy": "correction",
    EMDKG + "evidenceCode": "evidence code",
    EMDKG + "evidenceGrade": "evidence grade",
}


def findings_about(store: Any, iri: str) -> list[Finding]:
    """Every statement (finding or flagged claim) that names ``iri``, or a subclass as its disease."""
    rows = store.select(_FINDINGS, {"e": IRI(iri)})
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[str(row["f"])].append(row)
    findings = []
    for f, group in grouped.items():
        first = group[0]
        quotes: dict[str, str] = {}
        for row in group:
            if row["quote"] is not None:
                quotes[str(row["quote"])] = getattr(row["quote"], "lang", "")
        ordered_quotes = sorted(quotes.items(), key=lambda q: (q[1] not in ("en", ""), q[1], q[0]))
        types = _links((r["type"], r["typeLabel"]) for r in group)
        specific = [t for t in types if t.iri not in (EMDKG + "Finding", EMDKG + "Statement")]
        source = None
        if first["src"] is not None:
            urls = sorted({str(r["url"]) for r in group if r["url"] is not None})
            source = SourceRef(
                str(first["src"]),
                _english(r["srcLabel"] for r in group) or curie(str(first["src"])),
                _text(first["doi"]),
                _text(first["pmid"]),
                urls[0] if urls else None,
            )
        subjects = {str(r["sub"]) for r in group} - {iri}
        subject = None
        if subjects and all(str(r["sub"]) != iri for r in group):
            sub = sorted(subjects)[0]
            subject = Link(sub, _english(r["subLabel"] for r in group if str(r["sub"]) == sub) or curie(sub))

        def link(key: str, label_key: str) -> Link | None:
            values = sorted({str(r[key]) for r in group if r[key] is not None})
            if not values:
                return None
            return Link(values[0], _english(r[label_key] for r in group if str(r[key]) == values[0]) or curie(values[0]))

        type_link = (specific or types or [None])[0]
        findings.append(
            Finding(
                iri=f,
                label=_english(r["label"] for r in group) or curie(f),
                type=type_link,
                roles=sorted({_ROLE_NAMES.get(str(r["role"]), curie(str(r["role"]))) for r in group}),
                phase=link("phase", "phaseLabel"),
                treatment_phase=link("tphase", "tphaseLabel"),
                quotes=[(text, lang) for text, lang in ordered_quotes],
                evidence=link("eco", "ecoLabel"),
                grade=link("grade", "gradeLabel"),
                source=source,
                subject=subject,
                flagged=type_link is not None and type_link.iri == EMDKG + "FlaggedClaim",
            )
        )
    return sorted(findings, key=lambda x: (x.flagged, x.source.label if x.source else "", x.label))


@dataclass
class PhaseGroup:
    """Findings that share a phase (``iri`` None: no phase stated)."""

    label: str
    iri: str | None
    findings: list[Finding]

    @property
    def anchor(self) -> str:
        return "phase-" + re.sub(r"[^a-z0-9]+", "-", self.label.lower()).strip("-")


#: Phases in clinical order; phases not listed come after, by label.
PHASE_ORDER = [
    EMDKG + p
    for p in (
        "AtDiagnosis", "CompleteRemission", "MinimalResidualDisease", "Relapse", "FirstRelapse",
        "SystemicRelapse", "ExtramedullaryRelapse", "IsolatedExtramedullaryRelapse",
        "RelapseAfterAllogeneicHSCT", "IsolatedExtramedullaryRelapseAfterAllogeneicHSCT",
        "RelapsedRefractory", "InductionTherapy", "ConsolidationTherapy", "MaintenanceTherapy",
        "SanctuaryTherapy", "CNSDirectedTherapy", "TesticularDirectedTherapy", "SalvageTherapy",
    )
]
NO_PHASE = "phase not stated"


def _phase_key(iri: str | None, label: str) -> tuple[int, int, str]:
    if iri is None:
        return (2, 0, label)
    if iri in PHASE_ORDER:
        return (0, PHASE_ORDER.index(iri), label)
    return (1, 0, label.lower())


def findings_by_phase(findings: Sequence[Finding]) -> list[PhaseGroup]:
    """Group findings by disease phase (else treatment phase), in clinical order; flagged claims last."""
    groups: dict[str | None, PhaseGroup] = {}
    for finding in findings:
        phase = finding.phase or finding.treatment_phase
        key = phase.iri if phase else None
        if key not in groups:
            groups[key] = PhaseGroup(phase.label if phase else NO_PHASE, key, [])
        groups[key].findings.append(finding)
    return sorted(groups.values(), key=lambda g: _phase_key(g.iri, g.label))


# --- the sites x phase figure -----------------------------------------------------------------


@dataclass
class SiteCell:
    """Site involvement findings of one site in one phase."""

    site: Link
    phase: Link | None
    findings: int
    sources: list[str]


_SITE_MATRIX = _PREFIX_BLOCK + """
SELECT ?disease ?f ?site ?siteLabel ?phase ?phaseLabel ?srcLabel WHERE {
  ?d rdfs:subClassOf* ?disease .
  ?f a emdkg:SiteInvolvementFinding ;
     emdkg:disease ?d ;
     emdkg:site ?site .
  OPTIONAL { ?site rdfs:label ?siteLabel }
  OPTIONAL { ?f emdkg:diseasePhase ?phase . OPTIONAL { ?phase rdfs:label ?phaseLabel } }
  OPTIONAL { ?f emdkg:source ?src . OPTIONAL { ?src rdfs:label ?srcLabel } }
}
"""


def site_matrix(store: Any, disease: str) -> list[SiteCell]:
    """The site involvement findings of ``disease`` (and its subclasses) per site and phase."""
    rows = store.select(_SITE_MATRIX, {"disease": IRI(disease)})
    cells: dict[tuple[str, str | None], dict[str, Any]] = {}
    for row in rows:
        site, phase = str(row["site"]), _text(row["phase"])
        cell = cells.setdefault(
            (site, phase),
            {"site": (site, []), "phase": (phase, []), "findings": set(), "sources": set()},
        )
        cell["site"][1].append(row["siteLabel"])
        cell["phase"][1].append(row["phaseLabel"])
        cell["findings"].add(str(row["f"]))
        if row["srcLabel"] is not None and getattr(row["srcLabel"], "lang", "en") in ("en", ""):
            cell["sources"].add(str(row["srcLabel"]))
    out = []
    for (site, phase), cell in cells.items():
        site_link = Link(site, _english(cell["site"][1]) or curie(site))
        phase_link = Link(phase, _english(cell["phase"][1]) or curie(phase)) if phase else None
        out.append(SiteCell(site_link, phase_link, len(cell["findings"]), sorted(cell["sources"])))
    return out


# --- source errors ----------------------------------------------------------------------------


@dataclass
class SourceError:
    """A flagged claim: what the source said, what is wrong, and the correction with its source."""

    iri: str
    label: str
    quote: str | None
    source: SourceRef | None
    error_type: Link | None
    what_is_wrong: str | None
    claimed: list[Link]
    correct: list[Link]
    about: list[Link]  # the disease(s) and treatment phase the claim is about
    corrections: list[Finding]
    regarding: list[Link] = field(default_factory=list)  # therapies the corrections name (VDCP)

    @property
    def curie(self) -> str:
        return curie(self.iri)

    @property
    def related(self) -> set[str]:
        """Every IRI whose page shows this claim's badge."""
        iris = {self.iri}
        iris.update(link.iri for link in (*self.claimed, *self.correct, *self.about, *self.regarding))
        if self.source:
            iris.add(self.source.iri)
        return iris


_ERRORS = _PREFIX_BLOCK + """
SELECT ?claim ?label ?quote ?src ?srcLabel ?doi ?pmid ?url ?etype ?etypeLabel ?wrong
       ?p ?o ?oLabel ?fix ?fixTherapy ?fixTherapyLabel
WHERE {
  ?claim a emdkg:FlaggedClaim .
  OPTIONAL { ?claim rdfs:label ?label }
  OPTIONAL { ?claim emdkg:quote ?quote }
  OPTIONAL {
    ?claim emdkg:source ?src .
    OPTIONAL { ?src rdfs:label ?srcLabel }
    OPTIONAL { ?src bibo:doi ?doi }
    OPTIONAL { ?src bibo:pmid ?pmid }
    OPTIONAL { ?doc emdkg:documentOf ?src ; emdkg:retrievedFrom ?url }
  }
  OPTIONAL { ?claim emdkg:errorType ?etype . OPTIONAL { ?etype rdfs:label ?etypeLabel } }
  OPTIONAL { ?claim emdkg:whatIsWrong ?wrong }
  OPTIONAL {
    VALUES ?p { emdkg:claimedTherapy emdkg:correctTherapy emdkg:disease emdkg:treatmentPhase }
    ?claim ?p ?o .
    OPTIONAL { ?o rdfs:label ?oLabel }
  }
  OPTIONAL { ?claim emdkg:correctedBy ?fix }
  OPTIONAL { ?claim emdkg:correctedBy/emdkg:therapy ?fixTherapy . OPTIONAL { ?fixTherapy rdfs:label ?fixTherapyLabel } }
}
"""

_ONE_FINDING = _PREFIX_BLOCK + """
SELECT ?f ?type ?typeLabel ?label ?quote ?eco ?ecoLabel ?grade ?gradeLabel ?src ?srcLabel ?doi ?pmid ?url
WHERE {
  ?f a ?type .
  ?type rdfs:subClassOf* emdkg:Statement .
  OPTIONAL { ?type rdfs:label ?typeLabel }
  OPTIONAL { ?f rdfs:label ?label }
  OPTIONAL { ?f emdkg:quote ?quote }
  OPTIONAL { ?f emdkg:evidenceCode ?eco . OPTIONAL { ?eco rdfs:label ?ecoLabel } }
  OPTIONAL { ?f emdkg:evidenceGrade ?grade . OPTIONAL { ?grade rdfs:label ?gradeLabel } }
  OPTIONAL {
    ?f emdkg:source ?src .
    OPTIONAL { ?src rdfs:label ?srcLabel }
    OPTIONAL { ?src bibo:doi ?doi }
    OPTIONAL { ?src bibo:pmid ?pmid }
    OPTIONAL { ?doc emdkg:documentOf ?src ; emdkg:retrievedFrom ?url }
  }
}
"""


def one_finding(store: Any, iri: str) -> Finding | None:
    """A single statement with its evidence (a correction named by a flagged claim)."""
    rows = store.select(_ONE_FINDING, {"f": IRI(iri)})
    if not rows:
        return None
    for row in rows:
        row.setdefault("role", None)
        row.setdefault("sub", IRI(iri))
        row.setdefault("subLabel", None)
        row.setdefault("phase", None)
        row.setdefault("phaseLabel", None)
        row.setdefault("tphase", None)
        row.setdefault("tphaseLabel", None)
    group = rows
    first = group[0]
    types = _links((r["type"], r["typeLabel"]) for r in group)
    specific = [t for t in types if t.iri not in (EMDKG + "Finding", EMDKG + "Statement")]
    quotes = sorted(
        {str(r["quote"]): getattr(r["quote"], "lang", "") for r in group if r["quote"] is not None}.items(),
        key=lambda q: (q[1] not in ("en", ""), q[1], q[0]),
    )
    source = None
    if first["src"] is not None:
        urls = sorted({str(r["url"]) for r in group if r["url"] is not None})
        source = SourceRef(
            str(first["src"]),
            _english(r["srcLabel"] for r in group) or curie(str(first["src"])),
            _text(first["doi"]),
            _text(first["pmid"]),
            urls[0] if urls else None,
        )
    eco = first["eco"]
    grade = first["grade"]
    type_link = (specific or types or [None])[0]
    return Finding(
        iri=iri,
        label=_english(r["label"] for r in group) or curie(iri),
        type=type_link,
        flagged=type_link is not None and type_link.iri == EMDKG + "FlaggedClaim",
        roles=[],
        phase=None,
        treatment_phase=None,
        quotes=list(quotes),
        evidence=Link(str(eco), _english(r["ecoLabel"] for r in group) or curie(str(eco))) if eco else None,
        grade=Link(str(grade), _english(r["gradeLabel"] for r in group) or curie(str(grade))) if grade else None,
        source=source,
    )


def source_errors(store: Any) -> list[SourceError]:
    """Every flagged claim, with its correction(s) and their evidence."""
    rows = store.select(_ERRORS)
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[str(row["claim"])].append(row)
    errors = []
    for claim, group in grouped.items():
        first = group[0]
        by_role: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
        for row in group:
            if row["p"] is not None:
                by_role[str(row["p"])].append((row["o"], row["oLabel"]))
        source = None
        if first["src"] is not None:
            urls = sorted({str(r["url"]) for r in group if r["url"] is not None})
            source = SourceRef(
                str(first["src"]),
                _english(r["srcLabel"] for r in group) or curie(str(first["src"])),
                _text(first["doi"]),
                _text(first["pmid"]),
                urls[0] if urls else None,
            )
        fixes = sorted({str(r["fix"]) for r in group if r["fix"] is not None})
        corrections = [c for c in (one_finding(store, fix) for fix in fixes) if c is not None]
        etype = first["etype"]
        errors.append(
            SourceError(
                iri=claim,
                label=_english(r["label"] for r in group) or curie(claim),
                quote=_english(r["quote"] for r in group),
                source=source,
                error_type=Link(str(etype), _english(r["etypeLabel"] for r in group) or curie(str(etype))) if etype else None,
                what_is_wrong=_english(r["wrong"] for r in group),
                claimed=_links(by_role.get(EMDKG + "claimedTherapy", [])),
                correct=_links(by_role.get(EMDKG + "correctTherapy", [])),
                about=_links([*by_role.get(EMDKG + "disease", []), *by_role.get(EMDKG + "treatmentPhase", [])]),
                corrections=corrections,
                regarding=_links((r["fixTherapy"], r["fixTherapyLabel"]) for r in group),
            )
        )
    return sorted(errors, key=lambda e: e.label)


# --- search -----------------------------------------------------------------------------------


@dataclass
class SearchHit:
    """An entity whose label, synonym, CURIE or identifier matches the search text."""

    iri: str
    label: str
    kind: str | None
    matched: str
    how: str  # "label", "synonym", "identifier"
    score: int

    @property
    def curie(self) -> str:
        return curie(self.iri)


_SEARCH = _PREFIX_BLOCK + """
SELECT ?needle ?e ?p ?match WHERE {
  VALUES ?p { rdfs:label oboInOwl:hasExactSynonym oboInOwl:hasRelatedSynonym oboInOwl:hasBroadSynonym
              oboInOwl:hasDbXref bibo:doi bibo:pmid dcterms:title }
  ?e ?p ?match .
  FILTER(CONTAINS(LCASE(STR(?match)), ?needle))
}
"""

_LABELS = _PREFIX_BLOCK + """
SELECT ?e ?label WHERE { ?e rdfs:label ?label }
"""


def search(store: Any, text: str, *, limit: int = 50) -> list[SearchHit]:
    """Entities matching ``text`` (case-insensitive substring of a label, synonym or identifier).

    Exact matches come first, then prefix matches; terms before statements.
    """
    needle = " ".join(text.split()).lower()
    if not needle:
        return []
    rows = store.select(_SEARCH, {"needle": needle})
    best: dict[str, tuple[int, str, str]] = {}
    for row in rows:
        iri, prop, match = str(row["e"]), str(row["p"]), str(row["match"])
        how = {
            RDFS + "label": "label",
            DCTERMS + "title": "title",
            OBOINOWL + "hasDbXref": "identifier",
            BIBO + "doi": "identifier",
            BIBO + "pmid": "identifier",
        }.get(prop, "synonym")
        low = match.lower()
        score = 0 if low == needle else 1 if low.startswith(needle) else 2
        if how != "label":
            score += 1 if score else 0
        if iri not in best or score < best[iri][0]:
            best[iri] = (score, match, how)
    hits = []
    # Kinds and labels cost a query each: look them up for the best candidates only.
    shortlist = sorted(best.items(), key=lambda item: (item[1][0], len(item[1][1]), item[0]))[: limit * 3]
    for iri, (score, match, how) in shortlist:
        kind = kind_of(store, iri)
        label = _english(r["label"] for r in store.select(_LABELS, {"e": IRI(iri)})) or curie(iri)
        statement = kind in ("finding", "flagged source claim", "programme offering", "source document")
        hits.append(SearchHit(iri, label, kind, match, how, score + (10 if statement else 0)))
    hits.sort(key=lambda h: (h.score, len(h.label), h.label.lower()))
    return hits[:limit]


def english_label(store: Any, iri: str) -> str:
    """The English label of ``iri`` (its CURIE when it has none)."""
    return _english(r["label"] for r in store.select(_LABELS, {"e": IRI(iri)})) or curie(iri)


def is_lang(value: Any, lang: str) -> bool:
    return isinstance(value, LangString) and value.lang == lang
