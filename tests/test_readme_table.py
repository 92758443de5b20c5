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
