"""The README's supported-layers table is generated from the layer registry (kerasless.layers.supported_table)."""

from __future__ import annotations

from pathlib import Path

from kerasless.layers import REGISTRY, supported_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_table_is_generated_from_the_registry():
    text = README.read_text()
    start, end = "<!-- layers:start -->\n", "<!-- layers:end -->"
    assert start in text and end in text, "README lacks the layers:start / layers:end markers"
    table = text.split(start, 1)[1].split(end, 1)[0]
    assert table == supported_table(), "README table is stale: regenerate it from kerasless.layers.supported_table()"


def test_table_lists_every_registered_layer():
    table = supported_table()
    assert all(f"| `{name}` |" in table for name in REGISTRY)


def test_readme_speed_table_is_generated_from_the_last_bench_run():
    import importlib.util

    path = README.parent / "bench" / "readme_table.py"
    spec = importlib.util.spec_from_file_location("readme_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, "README speed table is stale: run python bench/readme_table.py"


def test_fixture_index_matches_the_case_list():
    """Every case the generator knows has its fixtures for every writer that can build it, and nothing else."""
    import json
    import sys

    sys.path.insert(0, str(README.parent / "tests"))
    import keras_cases as kc

    index = json.loads((README.parent / "tests" / "fixtures" / "INDEX.json").read_text())
    want = {name: sorted(w for w, reason in kc.writers_for(name).items() if reason is None) for name in kc.CASES}
    assert index == want, "tests/fixtures is stale: run make fixtures"
    for name, writers in index.items():
        for w in writers:
            assert any((README.parent / "tests" / "fixtures" / name / w).glob("model.*")), f"{name}/{w}: no model file"
