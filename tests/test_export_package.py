"""Packaging of the exporters: every runtime / template file under kerasless/export is installed (package-data
covers it), every folder holding Python is a package, and the registry, the CLI and kerasless.export agree."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import kerasless.export
from kerasless.cli import build_parser
from kerasless.export_targets import TARGETS

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
ROOT = Path(__file__).parents[1]
PKG = ROOT / "src" / "kerasless"


def test_package_data_covers_every_export_file():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["kerasless"]
    covered = {p for pattern in patterns for p in PKG.glob(pattern) if p.is_file()}
    files = {p for p in (PKG / "export").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    data = {p for p in files if p.suffix not in (".py", ".pyc")}
    assert data, "no runtime files found"
    assert not data - covered, f"not installed by package-data: {sorted(str(p.relative_to(PKG)) for p in data - covered)}"
    for folder in {p.parent for p in files if p.suffix == ".py"}:
        assert (folder / "__init__.py").exists(), f"{folder.relative_to(PKG)} has Python files but no __init__.py"


def test_targets_come_from_one_registry():
    assert list(kerasless.export.TARGETS) == list(TARGETS)
    assert all(kerasless.export.TARGETS[k].NAME == k for k in TARGETS)
    export_cmd = build_parser()._subparsers._group_actions[0].choices["export"]
    target_arg = next(a for a in export_cmd._actions if a.dest == "target")
    assert all(target_arg.type(k) == k for k in TARGETS)  # the CLI accepts exactly the registry's targets
    with pytest.raises(argparse.ArgumentTypeError, match=", ".join(TARGETS)):
        target_arg.type("cobol")
    assert all(k in target_arg.help for k in TARGETS)
