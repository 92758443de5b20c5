"""Text generation speed with the bundled char model (kerasless/data/char_lstm.keras, LSTM(128) over 39 chars):
kerasless.text.generate in window mode (native and NumPy backends) and stream mode vs the same window loop on
ONNX Runtime (model converted with tf2onnx, as bench_predict.to_onnx does). Greedy sampling (temperature 0), so
the window-mode texts must be identical; they are also checked against the Keras sample shipped with the model.

    python bench/bench_generate.py [--length 400] [--repeats 3]      (bench_predict.py runs it as a section)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_predict import to_onnx

PRIME = "shall i compare thee to a summer's day?\n"


def keras_sample(data: Path, prime: str, length: int) -> str | None:
    """The greedy window-mode continuation Keras wrote into char_lstm.sample.txt (None if absent)."""
    lines = (data / "char_lstm.sample.txt").read_text(encoding="utf8").split("\n")
    for i, line in enumerate(lines):
        if line.startswith("# {"):
            h = json.loads(line[2:])
            if (h["prime"], h["temperature"], h["mode"], h["length"]) == (prime, 0.0, "window", length):
                end = lines.index("# end", i)
                return "\n".join(lines[i + 1:end])[:length]
    return None


def ort_window(sess, vocab, prime: str, length: int) -> str:
    """kerasless.text's window loop on ONNX Runtime: last maxlen chars, left-padded with zeros, greedy."""
    from kerasless.text import sample

    name, width, rng = sess.get_inputs()[0].name, len(vocab.chars), np.random.default_rng(0)
    eye, ids, out = np.eye(width, dtype=np.float32), vocab.encode(prime), []
    for _ in range(length):
        window = ids[-vocab.maxlen:]
        x = np.zeros((1, vocab.maxlen, width), np.float32)
        if window:
            x[0, vocab.maxlen - len(window):] = eye[window]
        nxt = sample(sess.run(None, {name: x})[0][0], 0, rng)
        ids.append(nxt)
        out.append(vocab.chars[nxt])
    return "".join(out)


def run(length: int = 400, repeats: int = 3) -> dict:
    """Time each generator (median of ``repeats`` runs of ``length`` chars), print the table, return the section."""
    import keras
    import onnxruntime as ort

    import kerasless
    import kerasless.native as kn
    from kerasless.text import find_vocab, generate

    data = Path(kerasless.__file__).parent / "data"
    model = kerasless.load(data / "char_lstm.keras")
    vocab = find_vocab(model)
    with tempfile.TemporaryDirectory() as d:
        onnx = to_onnx(keras.saving.load_model(data / "char_lstm.keras"), Path(d) / "char.onnx", len(vocab.chars))
    sess = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])

    def kl(backend, mode):
        def f():
            kn.set_backend(backend)
            try:
                return generate(model, vocab, PRIME, length, temperature=0, mode=mode)
            finally:
                kn.set_backend(None)
        return f

    runs = {}
    if kn.available():
        runs["kerasless window (native)"] = kl("native", "window")
    runs["kerasless window (numpy)"] = kl("numpy", "window")
    if kn.available():
        runs["kerasless stream (native)"] = kl("native", "stream")
    runs["kerasless stream (numpy)"] = kl("numpy", "stream")
    runs["onnxruntime window"] = lambda: ort_window(sess, vocab, PRIME, length)
    rows, texts = {}, {}
    for name, fn in runs.items():
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            texts[name] = fn()
            times.append((time.perf_counter() - t0) / length * 1e6)
        q = np.percentile(times, [0, 50, 100])
        rows[name] = {"median_us_per_char": float(q[1]), "min_us": float(q[0]), "max_us": float(q[2]),
                      "n": repeats}
    ref = texts["onnxruntime window"]
    keras_text = keras_sample(data, PRIME, length)
    for name, r in rows.items():
        r["same_text_as_ort"] = texts[name] == ref
    base = rows["onnxruntime window"]["median_us_per_char"]
    print(f"\ntext generation, bundled char_lstm (LSTM(128), {len(vocab.chars)} chars, window {vocab.maxlen}): "
          f"{length} chars, greedy, median of {repeats}")
    print(f"  {'generator':<28}{'us/char':>9}  {'min-max':>17}{'x ORT':>8}  same text as ORT")
    for name, r in rows.items():
        print(f"  {name:<28}{r['median_us_per_char']:>9.1f}  {r['min_us']:>8.1f}-{r['max_us']:<8.1f}"
              f"{r['median_us_per_char'] / base:>8.2f}  {'yes' if r['same_text_as_ort'] else 'no'}")
    match_keras = None if keras_text is None else ref == keras_text
    print(f"  ORT window text == Keras sample (char_lstm.sample.txt): "
          f"{'n/a' if match_keras is None else 'yes' if match_keras else 'no'}; stream mode carries the state over "
          "the whole text (no window), so its text may differ")
    print(f"  first 60 chars: {ref[:60]!r}")
    return {"prime": PRIME, "length": length, "rows": rows, "window_matches_keras_sample": match_keras,
            "text_window": ref, "text_stream": texts["kerasless stream (numpy)"]}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--length", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    run(args.length, args.repeats)
