"""Swift target: real SwiftPM packages built and tested with `swift test` (the XCTests it writes, and the --verify
protocol on fixture inputs, NaN/inf included) on a few representative models; the C end-to-end tests cover the
numerics of every other model (the package's C target is the C export, byte for byte)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from test_export import TOL, compare, load_case
from test_export_readme import run_blocks, shim_path

from kerasless.export import ExportError, build_plan, export
from kerasless.export.inputs import reference_outputs
from kerasless.export.swift import target as swift_target

try:
    SWIFT = swift_target.swift()
except ExportError:
    SWIFT = None
needs_swift = pytest.mark.skipif(SWIFT is None, reason="swift is not installed (https://www.swift.org/install)")

AGGREGATE = """// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "AllModels",
    dependencies: [{deps}],
    targets: [{targets}]
)
"""
# One package per build is slow (~10-50 s): the main test builds one, the others share one build.
MAIN_CASE = "fx-functional_chain-k3-keras"  # functional LSTM -> Dense, streams; NaN/inf rows in its inputs
MORE = {"BiGru": "fx-bidir_gru_seq_mask-k3-keras", "Tokens": "b-embedding_mask_lstm_dense",
        "Stateful": "fx-stateful_lstm-k3-keras"}


@needs_swift
@pytest.mark.slow
def test_swift_package_readme_and_verify(tmp_path):
    """The folder README's commands (swift build, swift test) as written, then the --verify protocol on the fixture's
    inputs (NaN/inf rows included) in the same build, with the weights in a file."""
    model, batches = load_case(MAIN_CASE)
    plan = build_plan(model, "swift")
    pkg = tmp_path / "Chain"
    export(model, "swift", pkg, name="Chain", weights_file=True)
    outputs = run_blocks((pkg / "README.md").read_text(), pkg, shim_path(tmp_path))
    assert "testStreamMatchesPredict" in outputs[-1] and "0 failures" in outputs[-1]
    ys, self_test = swift_target.run(plan, pkg, "Chain", batches, weights_file=True, scratch=pkg / ".build")
    compare(ys, reference_outputs(model, batches), f"swift/{MAIN_CASE}")
    assert self_test <= TOL


@needs_swift
@pytest.mark.slow
def test_swift_generated_tests_of_several_models_in_one_build(tmp_path):
    """Each model's generated XCTests (its test vector through the Swift API, the stream, bad arguments) in one
    package that depends on the exported packages."""
    deps, targets = [], []
    for name, case_id in MORE.items():
        export(load_case(case_id)[0], "swift", tmp_path / name.lower(), name=name)
        shutil.copytree(tmp_path / name.lower() / "Tests" / f"{name}Tests", tmp_path / "all" / "Tests" / f"{name}Tests")
        deps.append(f'.package(path: "../{name.lower()}")')
        targets.append(f'.testTarget(name: "{name}Tests", dependencies: [.product(name: "{name}", '
                       f'package: "{name.lower()}")], path: "Tests/{name}Tests")')
    (tmp_path / "all" / "Package.swift").write_text(AGGREGATE.format(deps=", ".join(deps), targets=", ".join(targets)))
    out = swift_target.swift_test(tmp_path / "all")
    for name in MORE:
        assert f"{name}Tests.testPredictMatchesKerasless' passed" in out, out[-2000:]
    assert "Stateful" in out and "0 failures" in out


def test_swift_c_target_is_the_c_export(tmp_path):
    model, _ = load_case("b-gru_no_bias")
    files = export(model, "swift", tmp_path / "s", name="Net")
    c_files = export(model, "c", tmp_path / "c", name="Net")
    names = sorted(str(f.relative_to(tmp_path / "s")) for f in files)
    assert names == ["Package.swift", "README.md", "Sources/CNet/Net.c", "Sources/CNet/include/Net.h",
                     "Sources/Net/KeraslessRuntime.swift", "Sources/Net/Net.swift",
                     "Tests/NetTests/KeraslessVerify.swift", "Tests/NetTests/NetTests.swift"]
    assert (tmp_path / "s/Sources/CNet/Net.c").read_text() == c_files[1].read_text()
    assert "public final class Stream" in (tmp_path / "s/Sources/Net/Net.swift").read_text()
    export(load_case("b-bidir_sum")[0], "swift", tmp_path / "b", name="Bi")
    assert "// No Stream: layer 'l0' (Bidirectional): needs the whole sequence." in \
        (tmp_path / "b/Sources/Bi/Bi.swift").read_text()


@needs_swift
@pytest.mark.parametrize("source", ["Runtime.swift", "Verify.swift"])
def test_swift_runtime_typechecks_on_its_own(tmp_path, source):
    src = [swift_target.HERE / source] + ([swift_target.HERE / "Runtime.swift"] if source == "Verify.swift" else [])
    swiftc = str(Path(SWIFT).with_name("swiftc"))
    done = subprocess.run([swiftc, "-parse-as-library", "-typecheck", *map(str, src)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "import Foundation" not in (swift_target.HERE / "Runtime.swift").read_text()  # the library stays portable
