"""The seeded corpus: case ``<family>-<k>`` of seed S is always the same file and input, whatever the run's size.

A case is a plain dict the worker understands (worker.py): the file to load, the input, what must happen
(``expect``: "result", "refuse" or "any") and the reference to compare a result with, if one exists.
"""

from __future__ import annotations

import pickle
import random
from functools import cache
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
UNSAFE = FIXTURES / "_unsafe"
PWNED = "/tmp/kerasless_pwned"  # what the _unsafe fixtures' code would create


class Fixture:
    """A committed model file with its Keras-written input and output (x/y, x_0.../y_0..., or stateful x0/y0)."""

    def __init__(self, path: Path):
        self.path, self.dir = path, path.parent
        self.kind = "keras" if path.suffix == ".keras" else "h5"
        self.stateful = (self.dir / "x0.npy").exists()
        self.name = f"{self.dir.parent.name}/{self.dir.name}/{path.name}"

    @property
    def x(self):
        return _load(self.dir, "x0" if self.stateful else "x")

    @property
    def y(self):
        return _load(self.dir, "y0" if self.stateful else "y")

    @property
    def embeds(self) -> bool:
        """Has an Embedding: inputs are token ids, and Keras (tf.gather) rejects ids out of range or NaN."""
        import zipfile

        if self.kind == "keras":
            with zipfile.ZipFile(self.path) as z:
                return b'"Embedding"' in z.read("config.json")
        return b"Embedding" in self.path.read_bytes()

    def nonfinite(self):
        if not list(self.dir.glob("x_nonfinite*.npy")):
            return None
        return _load(self.dir, "x_nonfinite"), _load(self.dir, "y_nonfinite")


def _load(d: Path, stem: str):
    if (d / f"{stem}.npy").exists():
        return np.load(d / f"{stem}.npy")
    parts = [p for p in d.glob(f"{stem}_*.npy") if p.stem[len(stem) + 1:].isdigit()]
    return [np.load(p) for p in sorted(parts, key=lambda p: int(p.stem[len(stem) + 1:]))]


@cache
def fixtures(kind: str | None = None) -> tuple[Fixture, ...]:
    found = [Fixture(p) for p in sorted(FIXTURES.glob("*/*/model.*")) if not p.parent.parent.name.startswith("_")]
    return tuple(f for f in found if kind is None or f.kind == kind)


class Ctx:
    """What a family generator gets: its rng, the case's own directory, the run's directory (for watched paths)."""

    def __init__(self, family: str, k: int, seed: int, case_dir: Path, run_dir: Path):
        self.family, self.k, self.seed = family, k, seed
        self.rng = random.Random(f"{seed}:{family}:{k}")
        self.dir, self.run_dir = case_dir, run_dir
        self.token = f"kl-fuzz-{seed}-{family}-{k}"
        case_dir.mkdir(parents=True, exist_ok=True)

    def case(self, fixture: Fixture | None, op: str, data: bytes | None = None, name: str | None = None,
             expect: str = "any", ref=None, **extra) -> dict:
        """A case dict; ``data`` is written as the model file (else the fixture itself is loaded)."""
        path = fixture.path if fixture is not None else None
        if data is not None:
            path = self.dir / (name or ("model.keras" if data[:2] == b"PK" else "model.h5"))
            path.write_bytes(data)
        case = {"id": f"{self.family}-{self.k:05d}", "family": self.family, "op": op,
                "fixture": fixture.name if fixture else None, "path": str(path), "expect": expect,
                "input": None, "ref": None, "load_kw": {}, "predict_kw": {}, "watch": [PWNED],
                "dir": str(self.dir), "refuse_at": "predict" if self.family == "inputs" else "load"}
        if fixture is not None:
            case["input"] = self.pickle("x.pkl", fixture.x)
            if ref == "fixture":
                ref = {"kind": "keras", "file": self.pickle("ref.pkl", fixture.y)}
        case["ref"] = ref
        case.update(extra)
        return case

    def pickle(self, name: str, value) -> str:
        path = self.dir / name
        path.write_bytes(pickle.dumps(value, protocol=4))
        return str(path)


# -- the schedule -------------------------------------------------------------------------------------------------
def families() -> dict:
    """family -> (share of the run, generator(ctx) -> case, fixed count or None)."""
    from . import files, h5struct, inputs

    return {
        "h5-bytes": (0.27, files.h5_bytes, None),
        "zip": (0.15, files.zip_damage, None),
        "config": (0.22, files.config, None),
        "unsafe": (0.06, files.unsafe, None),
        "h5-struct": (0.13, h5struct.generate, None),
        "inputs": (0.17, inputs.generate, None),
        "special": (0.0, files.special, len(files.SPECIAL)),
    }


def schedule(n: int, only_family: str | None = None) -> list[tuple[str, int]]:
    """(family, k) for a run of ``n`` cases: every family its share, interleaved so any prefix is a mix."""
    fams = families()
    fixed = sum(c for _, _, c in fams.values() if c)
    rest = max(n - fixed, 0)
    counts = {f: (c if c else max(1, round(rest * share))) for f, (share, _, c) in fams.items()}
    if only_family:
        counts = {only_family: counts[only_family]}
    order = []
    for f, c in counts.items():
        order += [(k / c, f, k) for k in range(c)]
    return [(f, k) for _, f, k in sorted(order)]


def make(family: str, k: int, seed: int, run_dir: Path) -> dict:
    ctx = Ctx(family, k, seed, run_dir / "cases" / f"{family}-{k:05d}", run_dir)
    return families()[family][1](ctx)
