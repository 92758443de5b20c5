"""``kerasless demo``: the bundled char-level LSTM, explained, checked against Keras, and generating text."""

from __future__ import annotations

import sys
import time
from importlib import resources

import numpy as np

from . import load
from .text import find_vocab, generate_iter

PRIME = "to be, or not to be, that is the question:\n"


def bundled_model_path() -> str:
    return str(resources.files("kerasless") / "data" / "char_lstm.keras")


def _lstm_map(model) -> list[str]:
    from .explain import explain

    lines = []
    for info in explain(model).layers:
        if info.class_name != "LSTM":
            continue
        for w in info.weights:
            blocks = ", ".join(f"{b.start}-{b.stop - 1} {b.symbol}" for b in w.blocks)
            lines.append(f"  get_weights()[{w.index}] {w.name:<18} {str(tuple(w.shape)):<12} {blocks}")
    return lines


def run_demo(length: int = 300, temperature: float = 0.5, seed: int = 1, out=sys.stdout) -> str:
    """Load the bundled model, show its LSTM weight map and Keras check, stream generated text. Returns it."""
    path = bundled_model_path()
    model = load(path)
    vocab = find_vocab(model)
    say = lambda s="": print(s, file=out, flush=True)  # noqa: E731
    say(f"kerasless demo — a char-level LSTM trained on Shakespeare, run with NumPy only ({len(vocab.chars)} chars, "
        f"window {vocab.maxlen})\n")
    model.summary(print_fn=say)
    say("\nWhat model.get_weights() holds for the LSTM (column blocks: i input, f forget, c cell, o output gate):")
    for line in _lstm_map(model):
        say(line)
    check = resources.files("kerasless") / "data" / "char_lstm.check.npz"
    with check.open("rb") as f, np.load(f) as z:
        diff = float(np.abs(model.predict(z["x"]) - z["y"]).max())
    say(f"\nFidelity: max |kerasless - keras predict| on the stored input = {diff:.2e}\n")
    say(f"Generating {length} chars (stream mode, temperature {temperature}, seed {seed}):\n")
    out.write(PRIME)
    start, text = time.perf_counter(), []
    for ch in generate_iter(model, vocab, PRIME, length, temperature, seed, mode="stream"):
        text.append(ch)
        out.write(ch)
        out.flush()
    seconds = time.perf_counter() - start
    say(f"\n\n{length} chars in {seconds:.2f} s — {length / seconds:,.0f} chars/s")
    return "".join(text)
