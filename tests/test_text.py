"""Text generation: vocabularies, the seed's sampling, window/stream modes, the bundled model, Japanese text."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import kerasless
from kerasless.cli import main
from kerasless.demo import bundled_model_path, run_demo
from kerasless.text import Vocab, find_vocab, generate, sample

JA = Path(__file__).parent / "fixtures_text" / "japanese"


@pytest.fixture(scope="module")
def bundled():
    model = kerasless.load(bundled_model_path())
    return model, find_vocab(model)


@pytest.fixture(scope="module")
def japanese():
    model = kerasless.load(JA / "char_lstm.keras")
    return model, find_vocab(model)


@pytest.mark.parametrize("name,temperature,seed", [("keras_greedy.txt", 0, 0), ("keras_t05_seed1.txt", 0.5, 1)])
def test_japanese_generation_matches_keras(japanese, name, temperature, seed):
    model, vocab = japanese
    prime = (JA / "prime.txt").read_text(encoding="utf8")
    expected = (JA / name).read_text(encoding="utf8")
    assert generate(model, vocab, prime, len(expected), temperature, seed, "window") == expected


def test_vocab_inside_keras_zip_equals_file_beside(japanese):
    model, vocab = japanese
    beside = Vocab.from_json((JA / "char_lstm.vocab.json").read_text(encoding="utf8"))
    assert vocab == beside and any(ord(c) > 0x3000 for c in vocab.chars)


def test_vocab_found_beside_model(tmp_path):
    with zipfile.ZipFile(JA / "char_lstm.keras") as src, zipfile.ZipFile(tmp_path / "m.keras", "w") as dst:
        for item in src.namelist():
            if not item.startswith("assets/"):
                dst.writestr(item, src.read(item))
    model = kerasless.load(tmp_path / "m.keras")
    with pytest.raises(kerasless.KeraslessError, match="no vocabulary"):
        find_vocab(model)
    (tmp_path / "m.vocab.json").write_text((JA / "char_lstm.vocab.json").read_text(encoding="utf8"), encoding="utf8")
    assert len(find_vocab(model).chars) == 161


@pytest.mark.parametrize("text", ['{"format": "other"}', "not json", '{"format": "kerasless-vocab", "chars": ["ab"],'
                                  ' "maxlen": 3}'])
def test_bad_vocab_is_a_file_error(text):
    with pytest.raises(kerasless.ModelFileError):
        Vocab.from_json(text)


def test_sampling_is_the_seeds():
    p = np.array([0.1, 0.2, 0.7], np.float32)
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    q = np.exp(np.log(p.astype("float64")) / 0.5)
    q = q / q.sum()
    assert [sample(p, 0.5, rng_a) for _ in range(20)] == [int(rng_b.multinomial(1, q).argmax()) for _ in range(20)]
    assert sample(p, 0, rng_a) == 2


def test_stream_after_maxlen_chars_equals_window_predict(bundled):
    """After exactly maxlen chars, stream mode's probabilities equal predict on that full (unpadded) window."""
    model, vocab = bundled
    text = ("to be, or not to be, that is the question:" * 2)[: vocab.maxlen]
    onehot = np.eye(len(vocab.chars), dtype=np.float32)[vocab.encode(text)]  # (maxlen, n_chars)
    stream = model.stream()
    for row in onehot:
        probs = stream.step(row[None])
    np.testing.assert_allclose(probs, model.predict(onehot[None]), atol=1e-6)


def test_generate_cli_streams_text(capsys):
    assert main(["generate", "--prime", "to be", "--length", "50", "--random-seed", "1", "--mode", "stream"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("to be") and len(out.rstrip("\n")) == 55


def test_generate_cli_refuses_unknown_chars(capsys):
    assert main(["generate", "--prime", "To be", "--length", "5"]) == 2
    captured = capsys.readouterr()
    assert "'T'" in captured.err and captured.out == ""


def test_demo_runs_and_matches_keras():
    class Sink:
        text = []

        def write(self, s):
            self.text.append(s)

        def flush(self):
            pass

    sink = Sink()
    generated = run_demo(length=60, out=sink)
    out = "".join(sink.text)
    assert len(generated) == 60 and "W_i" in out and "chars/s" in out
    diff = float(out.split("keras predict| on the stored input = ")[1].split()[0])
    assert diff <= 1e-5


def test_vocab_json_roundtrip():
    v = Vocab(("a", "é", "語"), 5, "embedding")
    assert Vocab.from_json(v.to_json()) == v and json.loads(v.to_json())["format"] == "kerasless-vocab"


@pytest.mark.keras
@pytest.mark.parametrize("temperature,seed", [(0.0, 0), (0.2, 1), (0.5, 1), (0.5, 7), (1.0, 3)])
def test_generation_identical_to_keras(bundled, temperature, seed):
    """200 chars sampled from Keras's probabilities and from kerasless's are the same string."""
    keras = pytest.importorskip("keras", reason="Keras is installed by `make test`")
    model, vocab = bundled
    keras_model = keras.saving.load_model(bundled_model_path(), compile=False)

    class KerasProbs:  # the same generate() loop, fed by Keras
        spec = model.spec

        @staticmethod
        def predict(x):
            return np.asarray(keras_model.predict_on_batch(x))

    prime = "shall i compare thee to a summer's day?\n"
    ours = generate(model, vocab, prime, 200, temperature, seed, "window")
    theirs = generate(KerasProbs, vocab, prime, 200, temperature, seed, "window")
    assert ours == theirs
