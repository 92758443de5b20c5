"""The README's "Command line" block runs as written: each command once with its [optional] parts left out and once
with them in (the first of each a|b choice), on the bundled model, in a scratch folder."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDERS = {"MODEL": "$M", "DIR": "out_dir", "N": "3", "NAME": "char", "COMMAND": "predict"}
SKIP = ("kerasless serve",)  # a server that runs until stopped: tests/test_serve_live.py starts it for real


def _block() -> tuple[dict, list[str]]:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Command line")
    body = text[start:].split("```sh\n", 1)[1].split("```", 1)[0]
    env, commands = {}, []
    for line in body.splitlines():
        line = line.split("  #", 1)[0].strip()
        if m := re.fullmatch(r"(\w+)=(\S+)", line):
            env[m[1]] = str(ROOT / m[2])
        elif line.startswith("kerasless") and not line.startswith(SKIP):
            commands.append(line)
    return env, commands


def _variants(line: str) -> list[str]:
    """[optional] parts out, then in; a|b choices take their first alternative; placeholders filled."""
    bare = re.sub(r"\s*\[[^\]]*\]", "", line)
    full = re.sub(r"\[([^\]]*)\]", r"\1", line)
    out = []
    for cmd in dict.fromkeys((bare, full)):
        cmd = "kerasless " + " ".join(PLACEHOLDERS.get(w, w) for w in cmd.split()[1:])
        out.append(re.sub(r"\S*\|\S*", lambda m: m[0].split("|")[0], cmd))
    return out


ENV, COMMANDS = _block()
CASES = [v for line in COMMANDS for v in _variants(line)]


def test_the_block_has_the_commands():
    assert len(COMMANDS) >= 8 and set(ENV) == {"M", "X"} and all(Path(p).exists() for p in ENV.values())


@pytest.mark.parametrize("command", CASES)
def test_readme_command_runs(tmp_path, command):
    args = [os.path.expandvars(a) if "$" in a else a for a in shlex.split(command.replace("$M", ENV["M"])
                                                                         .replace("$X", ENV["X"]))]
    proc = subprocess.run([sys.executable, "-m", "kerasless", *args[1:]], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-800:]}\n{proc.stderr[-1500:]}"


@pytest.mark.keras
def test_readme_python_block_runs(capsys):
    """The Python block as written, given the two names it leaves to the reader: an input x and a Keras model."""
    import numpy as np

    keras = pytest.importorskip("keras")
    text = (ROOT / "README.md").read_text()
    code = text[text.index("## Python"):].split("```python\n", 1)[1].split("```", 1)[0]
    path = ROOT / "src/kerasless/data/char_lstm.keras"
    scope = {"x": np.load(ROOT / "src/kerasless/data/char_lstm.check.npz")["x"],
             "keras_model": keras.models.load_model(path, compile=False)}
    cwd = os.getcwd()
    os.chdir(ROOT)  # the block names the bundled model by its path in the clone
    try:
        exec(compile(code, "README.md (Python)", "exec"), scope)
    finally:
        os.chdir(cwd)
    assert scope["y"].shape == (8, 39) and "Total params" in capsys.readouterr().out
