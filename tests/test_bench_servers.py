"""``emdkg bench servers``: one run measures export, load and HTTP vs embedded query latency."""

from __future__ import annotations

import json

import pytest

from emdkg import servers


@pytest.mark.server
def test_bench_servers_json(cli) -> None:
    if servers.oxigraph_binary() is None:
        pytest.skip("oxigraph is not installed: the `oxigraph` command (pip install oxigraph)")
    result = cli("bench", "servers", "--repeat", "1", "--server", "oxigraph", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["export"]["median"] > 0 and report["triples"] > 4000
    assert report["servers"]["oxigraph"]["loaded_triples"] == report["triples"]
    for name, per in report["queries"].items():
        assert per["oxigraph"]["same_rows"] is True, name
        assert per["oxigraph"]["ratio"] > 0


def test_bench_servers_table_without_servers(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(servers.AVAILABLE, "oxigraph", lambda: None)
    result = cli("bench", "servers", "--repeat", "1", "--server", "oxigraph")
    assert result.exit_code == 0, result.stderr
    assert "oxigraph  oxigraph is not installed" in result.stdout
    assert result.stdout.splitlines()[0].startswith("export, all formats (")
