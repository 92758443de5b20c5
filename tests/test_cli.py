"""The command line: a thin table over the API, clean errors (exit 2, no traceback)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_close

import kerasless
from kerasless.cli import main

FIX = Path(__file__).parent / "fixtures" / "lstm_basic" / "k3"


def test_predict_writes_keras_output(tmp_path):
    out = tmp_path / "y.npy"
    assert main(["predict", str(FIX / "model.keras"), str(FIX / "x.npy"), "--out", str(out)]) == 0
    np.testing.assert_allclose(np.load(out), np.load(FIX / "y.npy"), atol=1e-5)


def test_predict_prints(capsys):
    assert main(["predict", str(FIX / "model.h5"), str(FIX / "x.npy")]) == 0
    assert "[[" in capsys.readouterr().out


def test_summary(capsys):
    assert main(["summary", str(FIX / "model.keras")]) == 0
    out = capsys.readouterr().out
    assert "LSTM" in out and "Total params" in out


@pytest.mark.parametrize("argv,message", [
    (["summary", "/nonexistent.keras"], "no such file"),
    (["predict", str(FIX / "model.keras"), str(FIX / "model.keras")], "error"),
])
def test_errors_exit_2_without_traceback(argv, message):
    proc = subprocess.run([sys.executable, "-m", "kerasless", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_predict_wrong_shape_is_clean(tmp_path):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 3), np.float32))
    proc = subprocess.run([sys.executable, "-m", "kerasless", "predict", str(FIX / "model.keras"), str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "expected (batch, 6, 3)" in proc.stderr and "Traceback" not in proc.stderr


# -- input and output formats ----------------------------------------------------------------------------------------
MULTI = Path(__file__).parent / "fixtures" / "encdec_lstm_state" / "k3"  # two inputs: enc_in, dec_in


def _write_input(path: Path, fmt: str, xs: dict):
    """Write inputs {name: array} in a format, independently of kerasless's writer."""
    x = next(iter(xs.values()))
    if fmt == "npy":
        np.save(path, x)
    elif fmt == "npz-named":
        np.savez(path, **xs)
    elif fmt == "npz-only":
        np.savez(path, whatever=x)
    elif fmt == "json":
        path.write_text(json.dumps(x.tolist()))
    elif fmt == "json-instances":
        path.write_text(json.dumps({"instances": x.tolist()}))
    elif fmt == "json-instances-rows":
        n = len(x)
        path.write_text(json.dumps({"instances": [{k: v[i].tolist() for k, v in xs.items()} for i in range(n)]}))
    elif fmt == "json-named":
        path.write_text(json.dumps({k: v.tolist() for k, v in xs.items()}))
    elif fmt == "csv-header":
        np.savetxt(path, x.reshape(len(x), -1), delimiter=",", fmt="%.9g",
                   header=",".join(f"v{i}" for i in range(x[0].size)), comments="")
    elif fmt == "csv":
        np.savetxt(path, x.reshape(len(x), -1), delimiter=",", fmt="%.9g")


def _read_output(path: Path, shape):
    if path.suffix == ".npy":
        return np.load(path)
    if path.suffix == ".json":
        return np.array(json.loads(path.read_text()), np.float32)
    return np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=2).reshape(shape)


SUFFIX = {"npy": ".npy", "npz-named": ".npz", "npz-only": ".npz", "csv": ".csv", "csv-header": ".csv"}


@pytest.mark.parametrize("out", [".npy", ".json", ".csv"])
@pytest.mark.parametrize("fmt", ["npy", "npz-named", "npz-only", "json", "json-instances", "json-instances-rows",
                                 "json-named", "csv", "csv-header"])
def test_predict_round_trips_formats(fmt, out, tmp_path):
    """Every input format in, every output format out: Keras's output (the golden fixture) comes back."""
    src = tmp_path / f"x{SUFFIX.get(fmt, '.json')}"
    _write_input(src, fmt, {"input_layer": np.load(FIX / "x.npy")})
    dst = tmp_path / f"y{out}"
    assert main(["predict", str(FIX / "model.keras"), str(src), "--out", str(dst)]) == 0
    expected = np.load(FIX / "y.npy")
    assert_close(_read_output(dst, expected.shape), expected)


def test_predict_prints_json_and_reads_stdin(tmp_path):
    x = np.load(FIX / "x.npy")
    proc = subprocess.run([sys.executable, "-m", "kerasless", "predict", str(FIX / "model.keras"), "-"],
                          input=json.dumps({"instances": x.tolist()}), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert_close(np.array(json.loads(proc.stdout), np.float32), np.load(FIX / "y.npy"))


@pytest.mark.parametrize("fmt", ["npz-named", "json-named", "json-instances-rows"])
def test_predict_two_inputs(fmt, tmp_path, capsys):
    xs = {"enc_in": np.load(MULTI / "x_0.npy"), "dec_in": np.load(MULTI / "x_1.npy")}
    src = tmp_path / f"x{SUFFIX.get(fmt, '.json')}"
    _write_input(src, fmt, xs)
    assert main(["predict", str(MULTI / "model.keras"), str(src)]) == 0
    assert_close(np.array(json.loads(capsys.readouterr().out), np.float32), np.load(MULTI / "y.npy"))


@pytest.mark.parametrize("name,content,message", [
    ("x.json", "{not json", "is not valid JSON"),
    ("x.json", '{"a": 1}', "keyed by the model's input names ['input_layer']"),
    ("x.json", '[[1, 2], [3]]', "nested list of numbers"),
    ("x.json", "3", "single number"),
    ("x.csv", "a,b\n1,2\n", "rows have 2 values; the input (6, 3) flattened has 18"),
    ("x.csv", "a,b\n1,x\n", "not a CSV of numbers"),
    ("x.csv", "a,b\n", "has no rows of numbers"),
    ("x.txt", "1", "unknown input format '.txt'"),
    ("x.npy", b"not an npy", "is not a .npy file"),
    ("x.npz", b"not a zip", "is not a .npz (zip) file"),
    ("x.npz", b"PK\x03\x04 truncated", "is not a readable .npz file"),
    ("missing.npy", None, "missing.npy: no such file"),
])
def test_bad_input_files(name, content, message, tmp_path):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(kerasless.InputError, match=re.escape(message)) as info:
        main_raising(["predict", str(FIX / "model.keras"), str(path)])
    assert ".npy, .npz, .json, .csv" in str(info.value) and "pickle" not in str(info.value)


def test_pickled_npy_gets_no_pickle_advice(tmp_path):
    bad = tmp_path / "obj.npy"
    np.save(bad, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    proc = subprocess.run([sys.executable, "-m", "kerasless", "predict", str(FIX / "model.keras"), str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "holds Python objects" in proc.stderr
    assert "allow_pickle" not in proc.stderr and "Traceback" not in proc.stderr


def test_npz_with_other_names_lists_them(tmp_path):
    bad = tmp_path / "x.npz"
    np.savez(bad, a=np.zeros((1, 5, 3)), b=np.zeros((1, 4, 2)))
    with pytest.raises(kerasless.InputError, match=re.escape("has arrays ['a', 'b']; name them after the model's "
                                                             "inputs ['enc_in', 'dec_in']")):
        main_raising(["predict", str(MULTI / "model.keras"), str(bad)])


@pytest.mark.parametrize("argv,message", [
    (["predict", "{m}", "{x}", "--out", "{tmp}"], "is a directory"),
    (["predict", "{m}", "{x}", "--out", "{tmp}/y.txt"], "unknown output format '.txt'"),
    (["predict", "{m}", "{x}", "--out", "{tmp}/nowhere/y.npy"], "does not exist"),
    (["trace", "{m}", "{x}", "--out", "{tmp}"], "is a directory"),
    (["trace", "{m}", "{x}", "--plot", "{tmp}/t.jpg"], "expected .png"),
    (["explain", "{m}", "--html", "{tmp}/r.txt"], "expected .html"),
    (["export", "{m}", "--target", "c", "--out", "{x}"], "is a file; export writes a folder"),
])
def test_bad_out_is_refused_before_any_work(argv, message, tmp_path, capsys):
    argv = [a.format(m=FIX / "model.keras", x=FIX / "x.npy", tmp=tmp_path) for a in argv]
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    assert info.value.code == 2 and out == "" and message in " ".join(err.split())


def test_multi_output_needs_npz_or_json(tmp_path):
    multi = Path(__file__).parent / "fixtures" / "normalization" / "k3"  # two outputs
    x = tmp_path / "x.npy"
    np.save(x, np.load(multi / "x.npy"))
    with pytest.raises(kerasless.InputError, match="write them to .npz or .json"):
        main_raising(["predict", str(multi / "model.keras"), str(x), "--out", str(tmp_path / "y.npy")])
    assert main(["predict", str(multi / "model.keras"), str(x), "--out", str(tmp_path / "y.npz")]) == 0
    with np.load(tmp_path / "y.npz") as z:
        for i, key in enumerate(z.files):
            assert_close(z[key], np.load(multi / f"y_{i}.npy"))


def main_raising(argv):
    """Run a command's handler directly, so the typed error itself reaches the test."""
    from kerasless.cli import build_parser

    args = build_parser().parse_args(argv)
    return args.handler(args)


# -- arguments -------------------------------------------------------------------------------------------------------
def test_version():
    proc = subprocess.run([sys.executable, "-m", "kerasless", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"kerasless {kerasless.__version__}"


@pytest.mark.parametrize("command,defaults", [
    ("generate", ["(default: 400)", "(default: 0.5)", "window (the default"]),
    ("export", ["(default: 0)", "(default: model)"]),
    ("predict", ["(default: 0)", "chunks of 1024"]),
])
def test_help_shows_defaults(command, defaults, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for d in defaults:
        assert d in out


@pytest.mark.parametrize("argv,message", [
    (["generate", "--length", "-5"], "argument --length: must be >= 0, got -5"),
    (["generate", "--temperature", "-1"], "argument --temperature: must be >= 0, got -1"),
    (["predict", str(FIX / "model.keras"), str(FIX / "x.npy"), "--batch-size", "0"], "must be >= 1"),
    (["export", str(FIX / "model.keras"), "--target", "cobol", "--out", "d"], "unknown target 'cobol'; the targets"),
])
def test_arguments_validated_before_any_output(argv, message):
    proc = subprocess.run([sys.executable, "-m", "kerasless", *argv], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == "" and message in proc.stderr


def test_unknown_target_names_the_c_route():
    proc = subprocess.run([sys.executable, "-m", "kerasless", "export", str(FIX / "model.keras"), "--target", "rust",
                           "--out", "d"], capture_output=True, text=True)
    assert "c, numpy, js, java, web" in proc.stderr.replace("\n", " ") or "--target c" in proc.stderr
    assert "use --target c" in proc.stderr


# -- pictures of a character model -----------------------------------------------------------------------------------
BUNDLED = Path(kerasless.__file__).parent / "data"


def _check_text(row: int = 0) -> str:
    """The bundled check input's text, decoded here from its one-hot rows and the vocabulary file."""
    chars = json.loads((BUNDLED / "char_lstm.vocab.json").read_text())["chars"]
    with np.load(BUNDLED / "char_lstm.check.npz") as z:
        return "".join(chars[i] for i, r in zip(z["x"][row].argmax(-1), z["x"][row]) if r.any())


def test_weight_heatmap_labels_input_rows_with_characters():
    pytest.importorskip("matplotlib")
    from kerasless.plots import plot_weights

    chars = json.loads((BUNDLED / "char_lstm.vocab.json").read_text())["chars"]
    fig = plot_weights(kerasless.load(BUNDLED / "char_lstm.keras"))
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks == [{"\n": "⏎", " ": "␣"}.get(c, c) for c in chars]


@pytest.mark.parametrize("row,titles", [("0", 6), ("all", 24)])
def test_trace_plot_rows_and_characters(row, titles, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "t.png"
    assert main(["trace", str(BUNDLED / "char_lstm.keras"), str(BUNDLED / "char_lstm.check.npz"), "--plot", str(out),
                 "--row", row]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from kerasless.plots import char_view, plot_trace
    from kerasless.trace import trace

    model = kerasless.load(BUNDLED / "char_lstm.keras")
    with np.load(BUNDLED / "char_lstm.check.npz") as z:
        x = z["x"]
    fig = plot_trace(trace(model, x), sample="all" if row == "all" else int(row), labels=char_view(model, x)[1])
    axes = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert len(axes) == titles
    assert _check_text(0).replace("\n", "⏎").replace(" ", "␣") in axes[0].get_title(loc="left")
    ticks = "".join(t.get_text() for t in axes[0].get_xticklabels())
    assert ticks.lstrip("·") == _check_text(0).replace("\n", "⏎").replace(" ", "␣")  # · = zero-padded steps


def test_html_report_shows_input_text_and_next_characters(tmp_path):
    pytest.importorskip("matplotlib")
    import html

    out = tmp_path / "r.html"
    assert main(["explain", str(BUNDLED / "char_lstm.keras"), "--html", str(out), "--input",
                 str(BUNDLED / "char_lstm.check.npz")]) == 0
    text = out.read_text(encoding="utf-8")
    assert html.escape(_check_text(0)) in text and "Most likely next characters" in text
    chars = json.loads((BUNDLED / "char_lstm.vocab.json").read_text())["chars"]
    with np.load(BUNDLED / "char_lstm.check.npz") as z:
        best = chars[int(np.argmax(z["y"][0]))]  # Keras's own most likely next character
    assert f"<tr><td><code>{html.escape(repr(best))}</code></td>" in text


def test_pictures_alone_print_no_explanation(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["explain", str(BUNDLED / "char_lstm.keras"), "--plot", str(tmp_path / "w.png")]) == 0
    assert capsys.readouterr().out == ""
