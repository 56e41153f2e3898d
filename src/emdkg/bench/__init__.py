"""Benchmarks: how fast emdkg is, against what a user would otherwise pick.

* :mod:`emdkg.bench.generate` writes synthetic knowledge bases (N-Triples) that use the real
  ontology's terms and conform to the real shapes, with a known set of injected violations
  (``emdkg bench generate``);
* :mod:`emdkg.bench.run` measures load, named queries, a traversal, SHACL validation and peak
  memory at several sizes, for emdkg and for the baselines (rdflib, pyshacl, Oxigraph server,
  Apache Jena via :mod:`emdkg.bench.jena`), and prints absolute figures and speed-ups
  (``emdkg bench``); :mod:`emdkg.bench.cli` holds the options of both commands;
* the other modules here measure the servers and the web front end (``emdkg bench servers``,
  ``emdkg bench web``, :mod:`emdkg.bench.mix`).
"""
