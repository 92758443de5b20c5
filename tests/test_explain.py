"""explain (weight maps, equations), gate_weights, trace, plots, the HTML report and the generated layout doc."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from builders import bidirectional_model, chain, rnn_model, rnn_weights

from kerasless.cli import main
from kerasless.explain import explain, gate_weights
from kerasless.layers import layout
from kerasless.layout_docs import write_docs
from kerasless.trace import trace

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent
U = 4  # units of the builder models
ROLES = {"LSTM": ["input", "forget", "cell", "output"], "GRU": ["update", "reset", "candidate"],
         "SimpleRNN": ["candidate"]}  # Keras's block order, restated here on purpose as the check
KERAS_CLASS = {"LSTMLayer": "LSTM", "GRULayer": "GRU", "SimpleRNNLayer": "SimpleRNN",  # RNN(cell) builds these
               **{f"ConvLSTM{n}DLayer": "LSTM" for n in (1, 2, 3)}}  # an LSTM's gates, convolved


def _dense(units, input_dim, rng, activation="softmax"):
    return ("Dense", {"units": units, "activation": activation},
            [("kernel", rng.normal(size=(input_dim, units)).astype(np.float32)),
             ("bias", rng.normal(size=(units,)).astype(np.float32))])


def char_model(rng=None, vocab=1951, units=128, steps=40):
    """The README question: LSTM(128) over one-hot chars, Dense(vocab) softmax."""
    rng = rng or np.random.default_rng(0)
    return chain((steps, vocab), [("LSTM", {"units": units}, rnn_weights("LSTM", units, vocab, rng)),
                                  _dense(vocab, units, rng)])


MODELS = {
    "lstm": lambda r: rnn_model("LSTM", U, 3, 6, r),
    "lstm_nobias": lambda r: rnn_model("LSTM", U, 3, 6, r, use_bias=False),
    "lstm_sigmoid": lambda r: rnn_model("LSTM", U, 3, 6, r, activation="sigmoid"),
    "gru_after": lambda r: rnn_model("GRU", U, 3, 6, r, reset_after=True),
    "gru_before": lambda r: rnn_model("GRU", U, 3, 6, r, reset_after=False),
    "simple_rnn": lambda r: rnn_model("SimpleRNN", U, 3, 6, r, activation="relu"),
    "bidir_lstm": lambda r: bidirectional_model("LSTM", U, 3, 6, r),
    "bidir_gru_sum": lambda r: bidirectional_model("GRU", U, 3, 6, r, merge_mode="sum"),
    "stack": lambda r: chain((6, 3), [("LSTM", {"units": U, "return_sequences": True}, rnn_weights("LSTM", U, 3, r)),
                                      ("GRU", {"units": 3, "reset_after": True}, rnn_weights("GRU", 3, U, r)),
                                      _dense(2, 3, r)]),
    "td_dense": lambda r: chain((6, 3), [("TimeDistributed", {"layer": {"class_name": "Dense", "config": {
        "units": 2}}}, _dense(2, 3, r)[2])]),
    "td_lstm": lambda r: chain((5, 6, 3), [("TimeDistributed", {"layer": {"class_name": "LSTM", "config": {
        "units": U}}}, rnn_weights("LSTM", U, 3, r))]),
}


def build(name):
    return MODELS[name](np.random.default_rng(7))


def fixture_models():
    for f in sorted(FIXTURES.glob("*/*/model.*")) if FIXTURES.is_dir() else []:
        if not f.parent.parent.name.startswith("_"):
            yield pytest.param(f, id=f"{f.parent.parent.name}-{f.parent.name}-{f.suffix[1:]}")


# -- the JSON contract -------------------------------------------------------------------------------------------
def _leaves(layer, part=None):
    """(explain's part label, layer) of every layer holding weights under ``layer``, in get_weights() order."""
    if not layer.parts():
        yield part, layer
    for prefix, child in layer.parts():
        yield from _leaves(child, prefix or part)


def check_contract(model):
    d = json.loads(explain(model).to_json())
    flat = [w for layer in model.layers for w in layer.weights]
    weights = [w for layer in d["layers"] for w in layer["weights"]]
    assert [w["index"] for w in weights] == list(range(len(flat)))  # global get_weights() order
    assert all({"name", "index", "shape"} <= set(w) for w in weights)
    assert [tuple(w["shape"]) for w in weights] == [a.shape for a in flat]
    assert d["params"] == model.count_params() == sum(a.size for a in flat)
    for info, layer in zip(d["layers"], model.layers):
        assert info["name"] == layer.name and info["params"] == layer.count_params()
        owners = [(part, leaf) for part, leaf in _leaves(layer) for _ in leaf.weights]  # one per weight, in order
        for w, (part, sub) in zip(info["weights"], owners, strict=True):
            assert w.get("part") == part
            for row in sorted({b.get("row", -1) for b in w.get("blocks", [])}):
                blocks = [b for b in w["blocks"] if b.get("row", -1) == row]
                assert [b["gate"] for b in blocks] == ROLES[KERAS_CLASS[type(sub).__name__]]
                assert [(b["start"], b["stop"]) for b in blocks] == [
                    (k * sub.units, (k + 1) * sub.units) for k in range(len(blocks))]
                assert blocks[-1]["stop"] == w["shape"][-1]
            assert ("blocks" in w) == hasattr(sub, "LAYOUT")
        symbols = {(w["part"] + "/" if "part" in w else "") + b["symbol"]
                   for w in info["weights"] for b in w.get("blocks", [])}
        gated = {k for k in gate_weights(model, layer.name) if "_" in k.split("/")[-1]}  # W_i, not Dense's W
        assert symbols == gated  # blocks name gate_weights' keys
    return d


@pytest.mark.parametrize("name", list(MODELS))
def test_json_contract(name):
    check_contract(build(name))


@pytest.mark.parametrize("model_file", list(fixture_models()))
def test_explain_every_fixture(model_file):
    import kerasless

    model = kerasless.load(model_file)
    check_contract(model)
    assert str(explain(model)) and explain(model).to_markdown().startswith("# Weights")
    x_file = next((f for f in (model_file.parent / "x.npy", model_file.parent / "x0.npy") if f.exists()), None)
    if x_file is not None:  # trace runs predict's own code: same output
        x = np.load(x_file)
        got, want = trace(model, x).output, model.predict(x)
        for g, w in zip(got, want) if isinstance(want, list) else [(got, want)]:  # several outputs: one by one
            np.testing.assert_array_equal(g, w)


def test_lstm_blocks_and_symbols():
    d = explain(char_model()).to_dict()
    kernel, rec, bias = d["layers"][1]["weights"]
    assert (kernel["index"], kernel["shape"], rec["shape"], bias["shape"]) == (0, [1951, 512], [128, 512], [512])
    assert [(b["gate"], b["symbol"], b["start"], b["stop"]) for b in kernel["blocks"]] == [
        ("input", "W_i", 0, 128), ("forget", "W_f", 128, 256), ("cell", "W_c", 256, 384), ("output", "W_o", 384, 512)]
    assert [b["symbol"] for b in rec["blocks"]] == ["U_i", "U_f", "U_c", "U_o"]
    assert [w["index"] for w in d["layers"][2]["weights"]] == [3, 4]


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_bias_layouts(reset_after):
    d = explain(build("gru_after" if reset_after else "gru_before")).to_dict()
    bias = d["layers"][1]["weights"][2]
    if reset_after:
        assert bias["shape"] == [2, 3 * U]
        assert [(b["row"], b["symbol"], b["start"]) for b in bias["blocks"]] == [
            (0, "b_z", 0), (0, "b_r", U), (0, "b_h", 2 * U), (1, "br_z", 0), (1, "br_r", U), (1, "br_h", 2 * U)]
    else:
        assert bias["shape"] == [3 * U] and all("row" not in b for b in bias["blocks"])
        assert [b["symbol"] for b in bias["blocks"]] == ["b_z", "b_r", "b_h"]
    eqs = "\n".join(d["layers"][1]["equations"])
    assert ("r_t * (h_{t-1}·U_h + br_h)" in eqs) == reset_after and ("(r_t * h_{t-1})·U_h" in eqs) != reset_after


def test_bidirectional_forward_then_backward():
    model = build("bidir_lstm")
    info = explain(model).layer("l0")
    assert [(w.part, w.name, w.index) for w in info.weights] == [
        ("forward", "kernel", 0), ("forward", "recurrent_kernel", 1), ("forward", "bias", 2),
        ("backward", "kernel", 3), ("backward", "recurrent_kernel", 4), ("backward", "bias", 5)]
    named = gate_weights(model, "l0")
    assert set(named) == {f"{p}/{s}_{g}" for p in ("forward", "backward") for s in "WUb" for g in "ifco"}
    bwd_kernel = model.get_layer("l0").weights[3]
    np.testing.assert_array_equal(named["backward/W_o"], bwd_kernel[:, 3 * U:])


@pytest.mark.parametrize("name", ["lstm", "gru_after", "gru_before", "simple_rnn", "lstm_nobias"])
def test_gate_weights_are_slices(name):
    model = build(name)
    layer = model.get_layer("l0")
    named = gate_weights(model, "l0")
    for k, (gate, role) in enumerate(zip(layer.LAYOUT.gates, ROLES[layer.class_name])):
        cols = slice(k * U, (k + 1) * U)
        np.testing.assert_array_equal(named[f"W_{gate.key}"], layer.weights[0][:, cols])
        np.testing.assert_array_equal(named[f"U_{gate.key}"], layer.weights[1][:, cols])
        if layer.use_bias:
            b = layer.weights[2]
            np.testing.assert_array_equal(named[f"b_{gate.key}"], (b[0] if b.ndim == 2 else b)[cols])
        assert gate.role == role
    assert ("b_h" in named or "b_i" in named or "b_z" in named) == layer.use_bias


def test_equations_use_the_layers_own_activations():
    eqs = explain(build("lstm_sigmoid")).layer("l0").equations
    assert "g_t = sigmoid(x_t·W_c + h_{t-1}·U_c + b_c)" in eqs and "h_t = o_t * sigmoid(c_t)" in eqs
    assert not any("b_" in e for e in explain(build("lstm_nobias")).layer("l0").equations)
    assert explain(build("simple_rnn")).layer("l0").equations == ["h_t = relu(x_t·W_h + h_{t-1}·U_h + b_h)"]
    linear = rnn_model("SimpleRNN", 2, 3, 4, np.random.default_rng(0), activation="linear")
    assert explain(linear).layer("l0").equations == ["h_t = x_t·W_h + h_{t-1}·U_h + b_h"]


@pytest.mark.parametrize("version,formula", [("3.15.1", "x / 6 + 0.5"), ("2.2.4", "0.2 * x + 0.5")])
def test_hard_sigmoid_formula_follows_the_writer(version, formula):
    rng = np.random.default_rng(0)
    cfg = {"units": 2, "recurrent_activation": "hard_sigmoid"}
    model = chain((4, 3), [("LSTM", cfg, rnn_weights("LSTM", 2, 3, rng))], keras_version=version)
    info = explain(model).layer("l0")
    assert "i_t = hard_sigmoid(x_t·W_i + h_{t-1}·U_i + b_i)" in info.equations
    assert any(formula in f for f in info.activations)


def test_worked_example_text():
    text = str(explain(char_model()))
    for line in ["get_weights()[0]  kernel (1951, 512)", "columns   0–127  input gate i             W_i",
                 "columns 128–255  forget gate f            W_f", "columns 384–511  output gate o            U_o",
                 "get_weights()[1]  recurrent_kernel (128, 512)", "get_weights()[2]  bias (512,)",
                 "get_weights()[3]  kernel (128, 1951)", "get_weights()[4]  bias (1951,)",
                 "4·128·(1951 + 128 + 1) = 1,064,960", "1,316,639 parameters", "y = softmax(x·W + b)"]:
        assert line in text, line


# -- trace -------------------------------------------------------------------------------------------------------
def masked_input(rng, batch=3, steps=7, features=3):
    x = rng.normal(size=(batch, steps, features)).astype(np.float32)
    x[0, 5:] = 0  # post-padding
    x[1, :2] = 0  # pre-padding
    x[2, 3] = 0  # a hole
    return x


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masking", [None, 0.0])
def test_trace_h_is_predicts_sequence(cls, go_backwards, masking):
    rng = np.random.default_rng(1)
    model = rnn_model(cls, U, 3, 7, rng, masking=masking, return_sequences=True, go_backwards=go_backwards)
    x = masked_input(rng)
    tr = trace(model, x)["l0"]
    np.testing.assert_array_equal(tr["h"], model.predict(x))  # same code path: identical numbers
    assert list(tr.steps) == (list(range(6, -1, -1)) if go_backwards else list(range(7)))
    gate_vars = [g.var for g in layout.CELLS[cls].gates if g.var not in layout.CELLS[cls].states]
    assert list(tr.keys()) == gate_vars + list(layout.CELLS[cls].states)
    if masking is not None:
        valid = tr.mask  # processing order
        assert not valid[0, list(tr.steps).index(6)] and not valid[1, list(tr.steps).index(0)]
        for name in gate_vars:
            assert np.isnan(tr[name][~valid]).all() and not np.isnan(tr[name][valid]).any()


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_trace_lstm_equations_hold(activation):
    rng = np.random.default_rng(2)
    model = rnn_model("LSTM", U, 3, 7, rng, masking=0.0, activation=activation)
    tr = trace(model, masked_input(rng))["l0"]
    act = {"tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v))}[activation]
    v = tr.mask
    np.testing.assert_allclose(tr["h"][v], (tr["o"] * act(tr["c"]))[v], atol=1e-6)
    c_prev = np.concatenate([np.zeros_like(tr["c"][:, :1]), tr["c"][:, :-1]], axis=1)
    np.testing.assert_allclose(tr["c"][v], (tr["f"] * c_prev + tr["i"] * tr["g"])[v], atol=1e-6)
    np.testing.assert_array_equal(tr["c"][~v], c_prev[~v])  # masked steps carry the state


@pytest.mark.parametrize("reset_after", [True, False])
def test_trace_gru_update_holds(reset_after):
    rng = np.random.default_rng(3)
    model = rnn_model("GRU", U, 3, 7, rng, masking=0.0, reset_after=reset_after, go_backwards=True)
    tr = trace(model, masked_input(rng))["l0"]
    h_prev = np.concatenate([np.zeros_like(tr["h"][:, :1]), tr["h"][:, :-1]], axis=1)
    v = tr.mask
    np.testing.assert_allclose(tr["h"][v], (tr["z"] * h_prev + (1 - tr["z"]) * tr["hh"])[v], atol=1e-6)
    np.testing.assert_array_equal(tr["h"][~v], h_prev[~v])


def test_trace_bidirectional_matches_merged_output():
    rng = np.random.default_rng(4)
    model = chain((7, 3), [("Bidirectional", {"layer": {"class_name": "GRU", "config": {
        "units": U, "reset_after": True, "return_sequences": True}}},
        rnn_weights("GRU", U, 3, rng) + rnn_weights("GRU", U, 3, rng))], masking=0.0)
    x = masked_input(rng)
    tr = trace(model, x)
    fwd, bwd = tr["l0/forward"], tr["l0/backward"]
    assert (fwd.go_backwards, bwd.go_backwards) == (False, True)
    keep = (x != 0).any(-1)[..., None]  # Bidirectional zeroes masked steps of sequences
    merged = np.concatenate([fwd["h"], bwd["h"][:, ::-1]], axis=-1) * keep
    np.testing.assert_allclose(tr.output, merged, atol=1e-6)
    np.testing.assert_array_equal(tr.output, model.predict(x))


def test_trace_is_thread_safe():
    """Tracing records through this thread's own call: predicts running at the same time in other threads on the
    same model get their own answers and add nothing to the trace."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(5)
    model = rnn_model("LSTM", U, 3, 7, rng, return_sequences=True)
    xs = [rng.normal(size=(2, 7, 3)).astype(np.float32) for _ in range(8)]
    want = [model.predict(x) for x in xs]
    with ThreadPoolExecutor(4) as pool:
        traces = [pool.submit(trace, model, xs[0]) for _ in range(4)]
        preds = [pool.submit(model.predict, x) for x in xs]
        for got, ref in zip(preds, want):
            np.testing.assert_array_equal(got.result(), ref)
        for tr in traces:
            assert list(tr.result()) == ["l0"]
            np.testing.assert_array_equal(tr.result()["l0"]["h"], want[0])


def test_trace_leaves_stateful_state_alone():
    rng = np.random.default_rng(5)
    model = rnn_model("LSTM", U, 3, 5, rng, stateful=True)
    x1, x2 = (rng.normal(size=(2, 5, 3)).astype(np.float32) for _ in range(2))
    model.predict(x1)
    tr = trace(model, x2)
    np.testing.assert_array_equal(tr.output, model.predict(x2))  # trace started from the carried state
    model.reset_states()


# -- command line ------------------------------------------------------------------------------------------------
def write_h5(model, path):
    """A builder model as a legacy Keras 3 .h5 file (config + weights), written with h5py."""
    import h5py

    layers = [{"class_name": s.class_name, "config": s.config | {"name": s.name}} for s in model.spec.layers]
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"name": "m", "layers": layers}})
        f.attrs["keras_version"] = "3.15.1"
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [s.name for s in model.spec.layers]
        for s in model.spec.layers:
            sg = g.create_group(s.name)
            names = [f"{s.name}/{k}" for k, _ in s.weights]
            sg.attrs["weight_names"] = names
            for n, (_, a) in zip(names, s.weights):
                sg[n] = a


@pytest.fixture
def saved_model(tmp_path):
    """(model file, x): a fixture's .keras when generated, else a builder LSTM written as .h5."""
    keras_file = FIXTURES / "lstm_basic" / "k3" / "model.keras"
    if keras_file.exists():
        return keras_file, np.load(keras_file.parent / "x.npy")
    rng = np.random.default_rng(0)
    model = chain((6, 3), [("LSTM", {"units": U, "return_sequences": True}, rnn_weights("LSTM", U, 3, rng)),
                           _dense(2, U, rng)])
    write_h5(model, tmp_path / "model.h5")
    return tmp_path / "model.h5", rng.normal(size=(2, 6, 3)).astype(np.float32)


def test_cli_explain_formats(saved_model, capsys):
    path, _ = saved_model
    assert main(["explain", str(path)]) == 0
    assert "columns" in capsys.readouterr().out
    assert main(["explain", str(path), "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["layers"] and all("index" in w for layer in d["layers"] for w in layer["weights"])
    assert main(["explain", str(path), "--format", "markdown"]) == 0
    assert "| index |" in capsys.readouterr().out


def test_cli_trace_npz(saved_model, tmp_path, capsys):
    path, x = saved_model
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "trace.npz"
    assert main(["trace", str(path), str(tmp_path / "x.npy"), "--out", str(out)]) == 0
    with np.load(out) as z:
        layer = next(k.split("/")[0] for k in z.files if k.endswith("/h"))
        assert {f"{layer}/{k}" for k in ("i", "f", "g", "o", "c", "h", "steps")} <= set(z.files)
        assert z[f"{layer}/h"].shape[:2] == x.shape[:2]


# -- pictures ----------------------------------------------------------------------------------------------------
PNG = b"\x89PNG\r\n\x1a\n"


def test_plots_write_pngs(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib comes with the plot extra (make test installs it)")
    from kerasless.plots import plot_trace, plot_weights

    model = build("stack")
    plot_weights(model, tmp_path / "w.png")
    plot_trace(trace(model, masked_input(np.random.default_rng(0), steps=6)), tmp_path / "t.png")
    for f in ("w.png", "t.png"):
        data = (tmp_path / f).read_bytes()
        assert data.startswith(PNG) and len(data) > 5000


def test_cli_plots(saved_model, tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib comes with the plot extra (make test installs it)")
    path, x = saved_model
    np.save(tmp_path / "x.npy", x)
    assert main(["explain", str(path), "--plot", str(tmp_path / "w.png")]) == 0
    assert main(["trace", str(path), str(tmp_path / "x.npy"), "--plot", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "w.png").read_bytes().startswith(PNG) and (tmp_path / "g.png").read_bytes().startswith(PNG)


@pytest.fixture(scope="module")
def html_report_file(tmp_path_factory):
    pytest.importorskip("matplotlib", reason="matplotlib comes with the plot extra (make test installs it)")
    from kerasless.plots import html_report

    out = tmp_path_factory.mktemp("html") / "report.html"
    html_report(build("stack"), out, masked_input(np.random.default_rng(0), steps=6))
    return out


def test_html_is_self_contained(html_report_file):
    text = html_report_file.read_text(encoding="utf-8")

    no_data = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
    assert not re.search(r"https?:|(src|href)=\S*//|url\(|@import", no_data, re.IGNORECASE)
    assert text.count("data:image/png;base64,") == 2 and "<script" not in text and "<link" not in text
    assert "g_t = tanh(x_t·W_c + h_{t-1}·U_c + b_c)" in text


def test_html_renders_in_chromium(html_report_file, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    report = html_report_file
    shot = tmp_path / "shot.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1200,2000",
                        report.as_uri()], capture_output=True, timeout=180, check=False)
    from matplotlib.image import imread

    pixels = imread(shot)  # (2000, 1200, 3|4) floats in [0, 1]
    assert pixels.shape[:2] == (2000, 1200)
    ink = (pixels[..., :3] < 0.5).any(-1).mean()  # text and heatmaps on a white page
    colour = (np.ptp(pixels[..., :3], axis=-1) > 0.3).mean()  # the RdBu / viridis heatmaps
    assert ink > 0.01 and colour > 0.005, (ink, colour)


def test_missing_matplotlib_names_the_extra(monkeypatch, capsys, saved_model, tmp_path):
    from kerasless.errors import KeraslessError
    from kerasless.plots import MissingExtraError, plot_weights

    for mod in ("matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, mod, None)  # import raises ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'kerasless\[plot\]'") as err:
        plot_weights(build("lstm"))
    assert isinstance(err.value, KeraslessError)
    path, x = saved_model
    np.save(tmp_path / "x.npy", x)
    for argv in (["explain", str(path), "--plot", str(tmp_path / "w.png")],
                 ["explain", str(path), "--html", str(tmp_path / "r.html")],
                 ["trace", str(path), str(tmp_path / "x.npy"), "--plot", str(tmp_path / "t.png")]):
        assert main(argv) == 2
        assert "pip install 'kerasless[plot]'" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.html"))


def test_import_kerasless_does_not_import_matplotlib():
    code = ("import sys, kerasless, kerasless.explain, kerasless.trace, kerasless.plots, kerasless.layout_docs; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- docs and layout ---------------------------------------------------------------------------------------------
def test_layout_doc_is_generated_from_the_code():
    assert write_docs(ROOT / "docs" / "weight-layouts.md", check=True), \
        "docs/weight-layouts.md is stale: run python -m kerasless.layout_docs"


def test_layout_gate_vars_match_the_cells():
    """layout.py names the gates the step functions return (what trace records and equations print)."""
    for cls, cell in layout.CELLS.items():
        model = rnn_model(cls, 2, 3, 2, np.random.default_rng(0))
        keys = list(trace(model, np.ones((1, 2, 3), np.float32))["l0"].keys())
        assert keys == [g.var for g in cell.gates if g.var not in cell.states] + list(cell.states)
        assert any(e.startswith(f"{g.var}_t = ") for eqs in cell.equations.values() for e in eqs for g in cell.gates)


# -- against Keras itself ----------------------------------------------------------------------------------------
@pytest.mark.keras
@pytest.mark.parametrize("package", ["keras", "tf_keras"])
def test_indices_and_gate_weights_match_keras(package, tmp_path):
    import kerasless

    keras = pytest.importorskip(package, reason=f"{package} is installed by `make test`")
    L = keras.layers
    inp = keras.Input((6, 3))
    h = L.Bidirectional(L.LSTM(4, return_sequences=True))(inp)
    h = L.GRU(3, reset_after=package == "keras", recurrent_activation="hard_sigmoid")(h)
    km = keras.Model(inp, L.Dense(2, activation="softmax")(h))
    rng = np.random.default_rng(0)
    km.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in km.get_weights()])
    ws = km.get_weights()
    files = [tmp_path / "m.h5"] + ([tmp_path / "m.keras"] if package == "keras" else [])
    for f in files:
        km.save(f)
    for model in [kerasless.from_keras(km)] + [kerasless.load(f) for f in files]:
        flat = [a for layer in model.layers for a in layer.weights]
        infos = [w for info in explain(model).layers for w in info.weights]
        assert [w.index for w in infos] == list(range(len(ws)))
        for w in infos:
            assert w.shape == ws[w.index].shape
            np.testing.assert_array_equal(flat[w.index], ws[w.index])
        bidir, gru = (layer.name for layer in model.layers if layer.class_name in ("Bidirectional", "GRU"))
        named = gate_weights(model, bidir)
        np.testing.assert_array_equal(named["forward/W_f"], ws[0][:, 4:8])  # LSTM blocks i | f | c | o
        np.testing.assert_array_equal(named["backward/U_o"], ws[4][:, 12:16])
        g = gate_weights(model, gru)
        np.testing.assert_array_equal(g["U_r"], ws[7][:, 3:6])  # GRU blocks z | r | h
        if package == "keras":
            np.testing.assert_array_equal(g["br_h"], ws[8][1, 6:9])
        formula = "x / 6 + 0.5" if package == "keras" else "0.2 * x + 0.5"
        assert any(formula in f for f in explain(model).layer(gru).activations)
