"""Supply chain: declared dependencies with lower bounds, nothing imported that is not declared,
and a vulnerability audit (``.ci/audit``, pip-audit) where its database can be reached.

A fresh install of the declared dependencies is what ``.ci/run`` does on every CI run (a new
virtual environment, ``pip install -e '.[test]'``, then this suite).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _requirements() -> list[str]:
    project = PYPROJECT["project"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return [*project["dependencies"], *extras, *PYPROJECT["build-system"]["requires"]]


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


@pytest.mark.parametrize("requirement", _requirements())
def test_every_dependency_has_a_lower_bound(requirement: str) -> None:
    spec = requirement.split(";")[0]
    assert ">=" in spec or "==" in spec or "~=" in spec, f"{requirement!r} has no lower bound"


def test_every_imported_package_is_declared() -> None:
    """Each third-party module the package imports (at any depth) comes from a declared dependency."""
    declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    optional = {_name(r) for group in PYPROJECT["project"].get("optional-dependencies", {}).values() for r in group}
    distributions = importlib.metadata.packages_distributions()
    missing: dict[str, set[str]] = {}
    for path in sorted((REPO / "src" / "emdkg").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top == "emdkg":
                    continue
                names = {_name(d) for d in distributions.get(top, [top])}
                if not names & (declared | optional):
                    missing.setdefault(top, set()).add(str(path.relative_to(REPO)))
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_ci_installs_on_a_fresh_environment() -> None:
    """``.ci/run`` makes a new virtual environment and installs the project as the README says."""
    run = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "-m venv" in run and "pip install" in run and "'.[test]'" in run


@pytest.mark.slow
def test_no_known_vulnerability_in_the_installed_packages() -> None:
    """``.ci/audit`` over this environment; skipped (with the reason) when the database is out of reach."""
    audit = REPO / ".ci" / "audit"
    done = subprocess.run(["bash", str(audit), sys.executable], capture_output=True, text=True, timeout=600)
    if done.returncode == 3:
        pytest.skip("vulnerability database unreachable: " + (done.stderr.strip().splitlines() or ["?"])[-1])
    assert done.returncode == 0, f"pip-audit found known vulnerabilities:\n{done.stdout}\n{done.stderr}"
