"""Finding the bundled ontology, shapes and queries: in the checkout and in an installed wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
from pathlib import Path

import pytest

from emdkg import resources
from emdkg.store import load_files


def relative_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_checkout_layout(repo_root: Path) -> None:
    if resources.checkout_root() is None:
        pytest.skip("emdkg is installed from a wheel, not from this checkout")
    assert resources.data_root() == repo_root
    assert resources.ontology_dir() == repo_root / "ontology"
    assert resources.shapes_dir() == repo_root / "shapes"
    assert resources.queries_dir() == repo_root / "queries"


def test_bundled_rdf_files_are_the_ontology_files() -> None:
    ontology = resources.ontology_dir()
    files = resources.bundled_rdf_files()
    expected = [ontology / "emdkg.ttl"] if (ontology / "emdkg.ttl").is_file() else []
    expected += sorted((ontology / "imports").glob("*.ttl")) + sorted((ontology / "kb").glob("*.ttl"))
    assert files == expected
    assert files == resources.bundled_rdf_files(), "deterministic"


def test_bundled_rdf_files_parse() -> None:
    files = resources.bundled_rdf_files()
    if not files:
        pytest.skip("ontology/ holds no Turtle files yet")
    store = load_files(files)
    assert len(store) > 0


def test_bundled_rdf_files_order(tmp_path: Path) -> None:
    for name in ("kb/zeta.ttl", "kb/alpha.ttl", "imports/mesh.ttl", "imports/eco.ttl", "emdkg.ttl"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "kb" / "notes.md").write_text("not RDF")
    (tmp_path / "kb" / "drafts.ttl").mkdir()  # a folder, whatever its name
    names = [str(p.relative_to(tmp_path)) for p in resources.bundled_rdf_files(tmp_path)]
    assert names == ["emdkg.ttl", "imports/eco.ttl", "imports/mesh.ttl", "kb/alpha.ttl", "kb/zeta.ttl"]


def test_seeds_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMDKG_SEEDS", str(tmp_path))
    assert resources.seeds_dir() == tmp_path
    monkeypatch.setenv("EMDKG_SEEDS", str(tmp_path / "absent"))
    assert resources.seeds_dir() is None


def test_seeds_dir_beside_the_checkout(monkeypatch: pytest.MonkeyPatch, repo_root: Path) -> None:
    monkeypatch.delenv("EMDKG_SEEDS", raising=False)
    beside = repo_root.parent / "shared" / "seeds"
    expected = beside if beside.is_dir() and resources.checkout_root() is not None else None
    assert resources.seeds_dir() == expected


def test_seeds_fixture(seeds_dir: Path) -> None:
    assert seeds_dir.is_dir()


PROBE = textwrap.dedent("""
    import json, emdkg
    from emdkg import resources
    print(json.dumps({
        "module": emdkg.__file__,
        "data_root": str(resources.data_root()),
        "checkout": resources.checkout_root() is not None,
        "rdf": [str(p.relative_to(resources.ontology_dir())) for p in resources.bundled_rdf_files()],
        "dirs": [resources.ontology_dir().is_dir(), resources.shapes_dir().is_dir(),
                 resources.queries_dir().is_dir()],
    }))
""")


@pytest.mark.slow
def test_wheel_built_from_the_sdist_ships_the_data(repo_root: Path, tmp_path: Path) -> None:
    """sdist -> wheel -> a fresh environment, run from another folder, finds the same files."""
    pytest.importorskip("hatchling", reason="hatchling is needed to build (pip install -e '.[test]')")
    dist = tmp_path / "dist"

    def build(target: str, cwd: Path) -> Path:
        subprocess.run(
            [sys.executable, "-m", "hatchling", "build", "-t", target, "-d", str(dist)],
            cwd=cwd, check=True, capture_output=True, timeout=120,
        )
        suffix = ".tar.gz" if target == "sdist" else ".whl"
        (artifact,) = [p for p in dist.iterdir() if p.name.endswith(suffix)]
        return artifact

    sdist = build("sdist", repo_root)
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
            archive.extractall(tmp_path / "unpacked", filter="data")
        else:
            archive.extractall(tmp_path / "unpacked")
    (source,) = (tmp_path / "unpacked").iterdir()
    for folder in ("ontology", "shapes", "queries"):
        if (repo_root / folder).is_dir():
            assert relative_files(source / folder) == relative_files(repo_root / folder), folder
    wheel = build("wheel", source)

    # A bare environment that borrows this one's dependencies but not its emdkg.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    Path(site, "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--quiet", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    probe = subprocess.run(
        [str(python), "-c", PROBE], cwd=elsewhere, env=env, check=True, capture_output=True, text=True
    )
    found = json.loads(probe.stdout)
    assert found["module"].startswith(str(venv)), "the installed copy, not the checkout"
    assert found["data_root"].startswith(str(venv)) and not found["checkout"]
    assert found["dirs"][0], "ontology/ is in the wheel"
    checkout_rdf = [str(p.relative_to(repo_root / "ontology")) for p in resources.bundled_rdf_files()]
    assert found["rdf"] == checkout_rdf

    version = subprocess.run(
        [str(venv / "bin" / "emdkg"), "--version"], cwd=elsewhere, env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert (version.returncode, version.stdout.strip()) == (0, "emdkg 0.1.0")
