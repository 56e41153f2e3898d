"""Entailed edges, computed once at load so that named queries are plain joins on any engine.

This is the contract the query, release and web code share (owned by the query layer):

* ``ENTAILED_SUBCLASS_OF`` (``emdkg:entailedSubClassOf``) links every named class to itself and
  to each of its ancestors under ``rdfs:subClassOf`` (the reflexive-transitive closure), the
  way relation-graph / semsql's ``entailed_edge`` table does. Diseases, sites, phases and
  finding kinds are all classes, so one predicate serves every hierarchy.
* :func:`add_closure` adds those triples to a store after its files are loaded; the release
  writes them to a file of their own (``emdkg-entailed.nt``) and never into the asserted files;
  ``emdkg load`` sends them into the same target graph as the asserted triples.

A named query then asks ``?d emdkg:entailedSubClassOf ?disease_param`` instead of a property
path, which every SPARQL 1.1 engine evaluates the same way.
"""

from __future__ import annotations

EMDKG = "https://w3id.org/emdkg/"
ENTAILED_SUBCLASS_OF = EMDKG + "entailedSubClassOf"

__all__ = ["ENTAILED_SUBCLASS_OF"]
