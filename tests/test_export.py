"""Exporters end to end: every fixture model and every builder model x target (c, numpy), generated, compiled /
imported with the real toolchain and compared with kerasless predict (1e-5, same argmax). Plus a snapshot of the
generated code for one tiny model. C-only checks (sanitizers, bad arguments, weights file) are in test_export_c.py.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import shutil
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from builders import rnn_config, rnn_weights
from helpers import assert_close

import kerasless
from kerasless.export import build_plan
from kerasless.export.c import target as c_target
from kerasless.export.inputs import reference_outputs
from kerasless.export.numpy import target as numpy_target
from kerasless.graph import Model
from kerasless.io.spec import LayerSpec, ModelSpec
from kerasless.layers.activations import ACTIVATIONS

TOL = 1e-5
FIXTURES = Path(__file__).parent / "fixtures"
SNAPSHOTS = Path(__file__).parent / "export_snapshots"
HAVE_CC = shutil.which(os.environ.get("CC") or "gcc") is not None


# -- builder models (no Keras): one per option family ------------------------------------------------------------
def _w(rng, *shape, scale=0.5):
    return rng.normal(0, scale, shape).astype(np.float32)


def seq_model(input_shape, layers, batch=None, keras_version="3.15.1") -> Model:
    """InputLayer(batch, *input_shape) -> layers [(class, config, [arrays])] in a chain."""
    specs = [LayerSpec("input", "InputLayer", {"batch_shape": [batch, *input_shape]})]
    for i, (cls, cfg, ws) in enumerate(layers):
        specs.append(LayerSpec(cfg.get("name", f"l{i}"), cls, dict(cfg, name=cfg.get("name", f"l{i}")),
                               [(f"w{j}", w) for j, w in enumerate(ws)]))
    for prev, spec in itertools.pairwise(specs):
        spec.inbound = [[(prev.name, 0, 0)]]
    return Model(ModelSpec("m", specs, [("input", 0, 0)], [(specs[-1].name, 0, 0)], keras_version))


def rnn(cls, units, input_dim, rng, use_bias=True, **cfg):
    ws = [w for _, w in rnn_weights(cls, units, input_dim, rng, use_bias, cfg.get("reset_after", True))]
    return (cls, rnn_config(cls, units, use_bias=use_bias, **cfg), ws)


def dense(units, input_dim, rng, activation="linear", use_bias=True, scale=0.5):
    return ("Dense", {"units": units, "activation": activation, "use_bias": use_bias},
            [_w(rng, input_dim, units, scale=scale)] + ([_w(rng, units, scale=scale)] if use_bias else []))


def bidir(cls, units, input_dim, rng, merge_mode="concat", backward=None, **cfg):
    fwd = rnn(cls, units, input_dim, rng, **cfg)
    config = {"merge_mode": merge_mode, "layer": {"class_name": cls, "config": fwd[1]}}
    bwd = backward or rnn(cls, units, input_dim, rng, **cfg)
    if backward:
        config["backward_layer"] = {"class_name": bwd[0], "config": bwd[1]}
    return ("Bidirectional", config, fwd[2] + bwd[2])


MASK = ("Masking", {"mask_value": 0.0}, [])


def _act_case(act, version="3.15.1"):
    """SimpleRNN(4, act, seq) -> Dense(3, act), plus an LSTM gated by act for the bounded ones; small weights keep
    unbounded activations (exponential, softplus...) at moderate magnitudes."""
    keras_name = act.removesuffix("_k2")

    def build(rng):
        simple = ("SimpleRNN", rnn_config("SimpleRNN", 4, activation=keras_name, return_sequences=True),
                  [_w(rng, 3, 4, scale=0.3), _w(rng, 4, 4, scale=0.1), _w(rng, 4, scale=0.3)])
        layers = [simple, dense(3, 4, rng, keras_name, scale=0.3)]
        if act in GATES:
            layers.insert(1, rnn("LSTM", 4, 4, rng, recurrent_activation=keras_name, return_sequences=True))
        return seq_model((5, 3), layers, keras_version=version)
    return build


GATES = {"sigmoid", "hard_sigmoid", "hard_sigmoid_k2", "sparse_sigmoid", "softmax", "sparsemax", "hard_tanh",
         "tanh", "softsign"}


BUILDERS = {
    "lstm_mask_seq_softmax": lambda r: seq_model((6, 3), [MASK, rnn("LSTM", 5, 3, r, return_sequences=True),
                                                          dense(4, 5, r, "softmax")]),
    "lstm_no_bias_go_backwards": lambda r: seq_model((6, 3), [rnn("LSTM", 4, 3, r, use_bias=False,
                                                                  go_backwards=True)]),
    "gru_reset_after_backwards_seq": lambda r: seq_model((6, 3), [MASK, rnn("GRU", 4, 3, r, go_backwards=True,
                                                                            return_sequences=True)]),
    "gru_reset_before_k2": lambda r: seq_model((6, 3), [rnn("GRU", 4, 3, r, reset_after=False,
                                                            recurrent_activation="hard_sigmoid")],
                                               keras_version="2.2.4"),
    "gru_no_bias": lambda r: seq_model((5, 2), [rnn("GRU", 3, 2, r, use_bias=False)]),
    "simple_rnn_zero_out_mask": lambda r: seq_model((6, 3), [MASK, rnn("SimpleRNN", 4, 3, r, activation="relu",
                                                                       zero_output_for_mask=True)]),
    "mask_stacked_zero_out_seq": lambda r: seq_model((7, 3), [MASK, rnn("LSTM", 5, 3, r, return_sequences=True,
                                                                        zero_output_for_mask=True),
                                                              rnn("GRU", 4, 5, r)]),
    "bidir_concat_seq_mask": lambda r: seq_model((6, 3), [MASK, bidir("GRU", 4, 3, r, return_sequences=True)]),
    "bidir_sum": lambda r: seq_model((5, 3), [bidir("LSTM", 4, 3, r, "sum")]),
    "bidir_mul_mask": lambda r: seq_model((6, 3), [MASK, bidir("SimpleRNN", 4, 3, r, "mul")]),
    "bidir_ave_seq": lambda r: seq_model((5, 3), [bidir("LSTM", 3, 3, r, "ave", return_sequences=True)]),
    "bidir_custom_backward": lambda r: seq_model((5, 3), [bidir(
        "LSTM", 4, 3, r, return_sequences=True,
        backward=rnn("GRU", 3, 3, r, return_sequences=True, go_backwards=True))]),
    "embedding_mask_lstm_dense": lambda r: seq_model((7,), [
        ("Embedding", {"input_dim": 10, "output_dim": 4, "mask_zero": True}, [_w(r, 10, 4)]),
        rnn("LSTM", 5, 4, r, return_sequences=True), dense(3, 5, r, "tanh")]),
    "embedding_gru": lambda r: seq_model((6,), [("Embedding", {"input_dim": 8, "output_dim": 3}, [_w(r, 8, 3)]),
                                                rnn("GRU", 4, 3, r)]),
    "stateful_lstm": lambda r: seq_model((5, 3), [rnn("LSTM", 4, 3, r, stateful=True, return_sequences=True),
                                                  dense(2, 4, r)], batch=3),
    "stateful_bidir_gru": lambda r: seq_model((4, 2), [bidir("GRU", 3, 2, r, stateful=True)], batch=2),
    "td_lstm": lambda r: seq_model((3, 5, 4), [("TimeDistributed", {"layer": {"class_name": "LSTM", "config":
                                                rnn_config("LSTM", 4)}}, rnn("LSTM", 4, 4, r)[2])]),
    "td_dense": lambda r: seq_model((5, 4), [rnn("LSTM", 3, 4, r, return_sequences=True), (
        "TimeDistributed", {"layer": {"class_name": "Dense", "config": {"units": 2, "activation": "sigmoid"}}},
        dense(2, 3, r)[2])]),
    "shape_ops": lambda r: seq_model((5, 3), [
        ("Permute", {"dims": [2, 1]}, []), rnn("LSTM", 4, 5, r, return_sequences=True), ("Flatten", {}, []),
        ("RepeatVector", {"n": 2}, []), ("Reshape", {"target_shape": [4, 6]}, []), rnn("GRU", 3, 6, r),
        ("Activation", {"activation": "gelu"}, []), dense(4, 3, r, "sparsemax")]),
    "noop_layers": lambda r: seq_model((6, 3), [("Dropout", {"rate": 0.5}, []), rnn("LSTM", 4, 3, r,
                                                                                     return_sequences=True),
                                                ("GaussianNoise", {"stddev": 0.1}, []),
                                                ("Activation", {"activation": "linear"}, []), rnn("SimpleRNN", 3, 4, r)]),
    "dense_only": lambda r: seq_model((6,), [dense(5, 6, r, "relu", use_bias=False), dense(3, 5, r, "softmax")]),
    "identity": lambda r: seq_model((3, 2), [("Flatten", {}, [])]),
    "permute_3d": lambda r: seq_model((2, 3, 4), [("Permute", {"dims": [3, 1, 2]}, [])]),
    **{f"act_{a}": _act_case(a) for a in ACTIVATIONS if a != "hard_sigmoid_k2"},
    "act_hard_sigmoid_k2": _act_case("hard_sigmoid_k2", version="2.15.0"),
}
EXTREME = {"lstm_mask_seq_softmax", "gru_reset_before_k2", "bidir_sum", "act_softsign"}


def _fixture_cases():
    if not FIXTURES.is_dir():
        return []
    out = []
    for case in sorted(p for p in FIXTURES.iterdir() if p.is_dir() and not p.name.startswith("_")):
        for writer in sorted(p for p in case.iterdir() if p.is_dir()):
            out += [f"fx-{case.name}-{writer.name}-{f.suffix[1:]}" for f in sorted(writer.glob("model.*"))]
    return out


CASE_IDS = [f"b-{n}" for n in BUILDERS] + [f"b-{n}_extreme" for n in sorted(EXTREME)] + _fixture_cases()


def _fixture_file(case_id: str) -> Path:
    case, writer, ext = case_id.split("-", 1)[1].rsplit("-", 2)
    return FIXTURES / case / writer / f"model.{ext}"


def _fixture_batches(d: Path) -> list:
    """The fixture's inputs (consecutive calls for stateful cases), then its NaN / +inf / -inf rows (Keras wrote
    them beside the regular ones): every exported runtime must propagate them as predict does."""
    names = ["x0.npy", "x1.npy", "x2.npy"] if (d / "x0.npy").exists() else ["x.npy"]
    names += sorted(p.name for p in d.glob("x_nonfinite*.npy"))
    return [np.load(d / n).astype(np.float32) for n in names]


def load_case(case_id: str):
    """(model, [x batches fed to consecutive predict calls])."""
    if case_id.startswith("fx-"):
        path = _fixture_file(case_id)
        return kerasless.load(path), _fixture_batches(path.parent)
    name = case_id[2:].removesuffix("_extreme")
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    model = BUILDERS[name](rng)
    plan = build_plan(model)
    rows = plan.fixed_batch or 4
    batches = [build_sample(plan, rows, rng) for _ in range(3 if plan.fixed_batch else 1)]
    if case_id.endswith("_extreme"):
        batches = [b * np.float32(10) for b in batches]
    return model, batches


def build_sample(plan, rows, rng):
    from kerasless.export.inputs import sample_inputs

    return sample_inputs(plan, rows, rng)


# -- one build per case per session, C compiles in parallel ----------------------------------------------------
class Built:
    def __init__(self, case_id, root: Path):
        self.exe, self.error, self.key, self.skip = None, None, None, None
        if case_id.startswith("fx-"):  # plan first: models the exporters refuse may not even have an x.npy
            try:
                self.model = kerasless.load(_fixture_file(case_id))
                self.plan = build_plan(self.model, "c")
            except kerasless.KeraslessError as exc:  # load failures are test_golden's business
                self.skip = f"not exportable: {exc}"
                return
            self.batches = _fixture_batches(_fixture_file(case_id).parent)
        else:
            self.model, self.batches = load_case(case_id)
            self.plan = build_plan(self.model, "c")
        self.expected = reference_outputs(self.model, self.batches)
        self.dir = root / re.sub(r"[^A-Za-z0-9_.-]", "_", case_id)
        self.files = {"c": c_target.write(self.plan, self.dir / "c", "model"),
                      "numpy": numpy_target.write(self.plan, self.dir / "numpy", "model")}
        code = (self.dir / "c" / "model.c").read_text()
        self.key = hashlib.sha1(code[code.index("*/"):].encode()).hexdigest()  # same code -> compile once


    def compile(self, harness=None):
        try:
            self.exe = c_target.compile_harness(self.dir / "c", "model", self.dir / "harness", harness=harness)
        except Exception as exc:  # noqa: BLE001  (reported by the test that needs it)
            self.error = exc


class Session(dict):
    """case id -> Built; cases are built on first use, and the C ones a selected test needs are compiled up front
    in parallel (identical generated code is compiled once)."""

    def __init__(self, root: Path):
        super().__init__()
        self.root, self.harness = root, None

    def __missing__(self, case_id):
        self.prepare([case_id], compile_c=HAVE_CC)
        return self[case_id]

    def prepare(self, case_ids, compile_c: bool):
        new = {cid: Built(cid, self.root) for cid in case_ids if cid not in self}
        self.update(new)
        if compile_c and new:
            self.harness = self.harness or c_target.harness_object("model", self.root / "harness.o")
            unique = {b.key: b for b in new.values() if not b.skip}  # writers often give identical code
            with ThreadPoolExecutor(max(2, os.cpu_count() or 2)) as pool:
                list(pool.map(lambda b: b.compile(self.harness), unique.values()))
            for b in new.values():
                if not b.skip:
                    b.exe, b.error = unique[b.key].exe, unique[b.key].error


@pytest.fixture(scope="session")
def built(request, tmp_path_factory):
    """The Session of built cases, with every case a selected C test uses compiled in one parallel batch."""
    session = Session(tmp_path_factory.mktemp("export"))
    items = [i for i in request.session.items if i.module.__name__ == __name__ and hasattr(i, "callspec")]
    c_cases = sorted({i.callspec.params["case_id"] for i in items
                      if i.originalname == "test_c_matches_predict" and "case_id" in i.callspec.params})
    session.prepare(c_cases, compile_c=HAVE_CC)
    return session


def compare(got: list, expected: list, label: str) -> float:
    """assert_close per batch plus the same argmax wherever the reference's top two differ by more than 2*TOL."""
    worst = 0.0
    for i, (g, e) in enumerate(zip(got, expected)):
        worst = max(worst, assert_close(g.astype(np.float32), e, TOL, f"{label}#{i}"))
        if e.ndim and e.shape[-1] > 1:
            top2 = np.sort(e, axis=-1)[..., -2:]
            clear = (top2[..., 1] - top2[..., 0]) > 2 * TOL
            assert np.array_equal(np.argmax(g, -1)[clear], np.argmax(e, -1)[clear]), f"{label}#{i}: argmax differs"
    return worst


@pytest.mark.skipif(not HAVE_CC, reason="no C compiler (gcc) on this machine")
@pytest.mark.parametrize("case_id", CASE_IDS)
def test_c_matches_predict(built, case_id):
    b = built[case_id]
    if b.skip:
        pytest.skip(b.skip)
    if b.error:
        raise b.error
    ys, self_test = c_target.execute(b.exe, b.plan, b.batches)
    compare(ys, b.expected, f"c/{case_id}")
    assert self_test <= TOL, f"self_test {self_test}"


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_numpy_matches_predict(built, case_id):
    b = built[case_id]  # numpy-only selections build without compiling C
    if b.skip:
        pytest.skip(b.skip)
    ys, self_test = numpy_target.run(b.plan, b.dir / "numpy", "model", b.batches)
    compare(ys, b.expected, f"numpy/{case_id}")
    assert self_test <= TOL, f"self_test {self_test}"


def test_numpy_script_imports_only_numpy(built):
    b = built["b-shape_ops"]
    text = (b.dir / "numpy" / "model_numpy.py").read_text()
    imports = set(re.findall(r"^(?:import|from) (\w+)", text, re.MULTILINE))
    assert imports <= {"numpy", "os", "math"}, imports
    assert "import math" in text  # gelu needs erf
    assert "def lstm(" in text and "def gru(" in text and "def simple_rnn(" not in text  # only kernels it uses


# -- snapshot of the generated code for one tiny model ------------------------------------------------------------
def tiny_model():
    rng = np.random.default_rng(7)
    return seq_model((3, 2), [MASK, rnn("LSTM", 2, 2, rng, return_sequences=True), dense(2, 2, rng, "softmax")])


def _stable(text: str) -> str:
    """Drop the expected-output literals (kerasless predict's last bits depend on the BLAS)."""
    return re.sub(r"(kl_test_y\[\d+\] = \{)[^}]*\}", r"\1 ... }", text)


@pytest.mark.parametrize("target,files", [("c", ["model.h", "model.c"]), ("numpy", ["model_numpy.py"])])
def test_snapshot(tmp_path, target, files):
    from kerasless.export import export

    export(tiny_model(), target, tmp_path)
    for f in files:
        snap = SNAPSHOTS / "tiny" / f
        got = _stable((tmp_path / f).read_text())
        if os.environ.get("KERASLESS_UPDATE_SNAPSHOTS"):
            snap.parent.mkdir(parents=True, exist_ok=True)
            snap.write_text(got)
        assert got == snap.read_text(), f"{f} changed; rerun with KERASLESS_UPDATE_SNAPSHOTS=1 if intended"
