"""README commands run as written: every generated export folder's README.md, and the project README's export
section. A fenced block whose info string names a file (```c main.c) is saved under that name; every ```sh block
then runs with bash -e in that folder. Plus the C folder built the ways app toolchains build it (gcc and clang,
the model file alone or every .c in the folder, CMake add_subdirectory and file(GLOB)).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_export import FIXTURES, load_case

from kerasless.export import export

README = Path(__file__).parents[1] / "README.md"
MODEL = FIXTURES / "functional_chain" / "k3" / "model.keras"  # functional Input -> LSTM -> Dense (Keras 3)
WARN = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic")
COMPILERS = [cc for cc in ("gcc", "clang") if shutil.which(cc)]
TOOLS = {"cc": "cc", "cmake": "cmake", "node": "node", "javac": "javac", "swift": "swift"}


def code_blocks(text: str) -> list[tuple[str, str, str]]:
    """[(language, file name or "", body)] of every fenced block."""
    return [(m.group(1), m.group(2) or "", m.group(3))
            for m in re.finditer(r"^```(\w*)[ \t]*(\S*)\n(.*?)^```", text, re.MULTILINE | re.DOTALL)]


def shim_path(tmp: Path) -> dict:
    """An environment where `kerasless` and `python` are this interpreter with this checkout's kerasless."""
    bin_dir = tmp / "_bin"
    bin_dir.mkdir(exist_ok=True)
    for name, cmd in (("kerasless", f'exec "{sys.executable}" -m kerasless "$@"'),
                      ("python", f'exec "{sys.executable}" "$@"')):
        (bin_dir / name).write_text(f"#!/bin/sh\n{cmd}\n")
        (bin_dir / name).chmod(0o755)
    src = str(Path(__file__).parents[1] / "src")
    swift = [d for d in ("/opt/swift/usr/bin",) if Path(d).is_dir()]
    return dict(os.environ, PATH=os.pathsep.join([str(bin_dir), *swift, os.environ["PATH"]]),
                PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))


def missing_tools(script: str, env: dict) -> list[str]:
    words = set(re.findall(r"(?:^|&&|\|\||;)\s*([\w-]+)", script, re.MULTILINE))
    return [t for w, t in TOOLS.items() if w in words and shutil.which(t, path=env["PATH"]) is None]


def run_blocks(text: str, cwd: Path, env: dict, timeout: float = 600) -> list[str]:
    """Save the named blocks in ``cwd``, run the sh blocks in order; returns their outputs."""
    outputs = []
    for _, name, body in code_blocks(text):
        if name:
            (cwd / name).parent.mkdir(parents=True, exist_ok=True)
            (cwd / name).write_text(body)
    for lang, name, body in code_blocks(text):
        if lang != "sh" or name:
            continue
        if missing := missing_tools(body, env):
            pytest.skip(f"{', '.join(missing)} not installed")
        done = subprocess.run(["bash", "-e", "-c", body], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        assert done.returncode == 0, f"README block failed in {cwd}:\n{body}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        outputs.append(done.stdout)
    return outputs


# -- the project README: every sh block of the export section, each in a folder holding model.keras ------------
def _export_section() -> str:
    text = README.read_text()
    start = text.index("## Export standalone code")
    return text[start:text.index("\n## ", start + 1)]


SECTION_BLOCKS = [body for lang, name, body in code_blocks(_export_section()) if lang == "sh" and not name]


@pytest.mark.parametrize("block", range(len(SECTION_BLOCKS)))
def test_project_readme_export_commands(tmp_path, block):
    shutil.copyfile(MODEL, tmp_path / "model.keras")
    files = "\n".join(f"```{lang} {name}\n{body}```" for lang, name, body in code_blocks(_export_section()) if name)
    run_blocks(files + f"\n```sh\n{SECTION_BLOCKS[block]}```\n", tmp_path, shim_path(tmp_path))


# -- generated folder READMEs ----------------------------------------------------------------------------------
FOLDER_CASES = [("c", "fx", {}), ("c", "b-stateful_lstm", {"weights_file": True}),
                ("c", "b-bidir_concat_seq_mask", {"name": "tagger"}), ("js", "fx", {}),
                ("js", "b-embedding_gru", {"weights_file": True}), ("java", "fx", {"package": "com.example.ml"}),
                ("java", "b-stateful_lstm", {"weights_file": True}), ("numpy", "fx", {})]


def _model(case):
    if case == "fx":
        import kerasless

        return kerasless.load(MODEL)
    return load_case(case)[0]


@pytest.mark.parametrize("target,case,options", FOLDER_CASES)
def test_folder_readme_commands(tmp_path, target, case, options):
    out = tmp_path / options.get("name", "model")
    export(_model(case), target, out, **options)
    outputs = run_blocks((out / "README.md").read_text(), out, shim_path(tmp_path))
    assert "self-test max abs diff" in "".join(outputs)
    diff = float(re.search(r"self-test max abs diff: (\S+)", "".join(outputs)).group(1))
    assert diff <= 1e-5


# -- the C folder, built every way an app toolchain builds it --------------------------------------------------
C_CASES = ["fx", "b-stateful_bidir_gru", "b-embedding_mask_lstm_dense", "b-shape_ops", "b-act_sparsemax"]


@pytest.mark.skipif(not COMPILERS, reason="neither gcc nor clang is installed")
@pytest.mark.parametrize("case", C_CASES)
@pytest.mark.parametrize("weights_file", [False, True])
def test_c_folder_compiles_alone_and_as_a_glob(tmp_path, case, weights_file):
    files = export(_model(case), "c", tmp_path / "m", weights_file=weights_file)
    sources = sorted(str(f) for f in (tmp_path / "m").glob("*.c"))
    assert [Path(s).name for s in sources] == ["model.c"] and not any(f.suffix == ".h" and f.name != "model.h"
                                                                     for f in files)
    for cc in COMPILERS:
        for cmd in ([cc, *WARN, "-c", str(tmp_path / "m" / "model.c")], [cc, *WARN, "-c", *sources]):
            done = subprocess.run([*cmd, "-o", str(tmp_path / "o.o")], capture_output=True, text=True, check=False)
            assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stderr}"


APP = """cmake_minimum_required(VERSION 3.10)
project(app C)
{how}
add_executable(app main.c)
target_link_libraries(app PRIVATE {lib})
"""
MAIN = '#include <stdio.h>\n#include "model.h"\nint main(void) { printf("%g\\n", (double)model_self_test()); return 0; }\n'


@pytest.mark.skipif(shutil.which("cmake") is None or not COMPILERS, reason="cmake or a C compiler is missing")
@pytest.mark.parametrize("how", ["add_subdirectory", "glob"])
def test_c_folder_in_an_app_cmake_build(tmp_path, how):
    export(_model("fx"), "c", tmp_path / "model")
    (tmp_path / "main.c").write_text(MAIN)
    if how == "glob":  # what Android Studio's native templates and many apps do
        lines = 'file(GLOB MODEL_SOURCES "${CMAKE_CURRENT_SOURCE_DIR}/model/*.c")\nadd_library(m2 STATIC ${MODEL_SOURCES})\n' \
                'target_include_directories(m2 PUBLIC model)\ntarget_compile_options(m2 PRIVATE -Wall -Wextra -Werror)\n' \
                'target_link_libraries(m2 PUBLIC m)'
        (tmp_path / "CMakeLists.txt").write_text(APP.format(how=lines, lib="m2"))
    else:
        (tmp_path / "CMakeLists.txt").write_text(APP.format(how="add_subdirectory(model)", lib="model"))
    for cmd in (["cmake", "-S", str(tmp_path), "-B", str(tmp_path / "build")],
                ["cmake", "--build", str(tmp_path / "build")], [str(tmp_path / "build" / "app")]):
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert float(done.stdout) <= 1e-5
