"""Char-level text generation, the seed's use case: vocabulary files, sampling, window and stream modes.

Sampling (identical to the seed's Keras script, so every runtime gives the same text for a seed):
    p = probabilities as float64;  p = exp(log(p) / T);  p /= p.sum()
    next = rng.multinomial(1, p).argmax()   with rng = numpy.random.default_rng(random_seed)
    T = 0 means greedy: next = argmax(p).

Vocabulary JSON (beside the model as ``<model stem>.vocab.json`` or inside a .keras zip at
``assets/kerasless_vocab.json``)::

    {"format": "kerasless-vocab", "version": 1, "chars": ["\\n", " ", "a", ...], "maxlen": 40, "input": "onehot"}

``chars`` lists characters in index order (any Unicode); ``input`` is ``onehot`` (input (maxlen, len(chars)))
or ``embedding`` (input (maxlen,) token ids).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError, KeraslessError, ModelFileError

ASSET_NAME = "kerasless_vocab.json"


@dataclass(frozen=True)
class Vocab:
    chars: tuple[str, ...]
    maxlen: int
    input: str = "onehot"

    @property
    def index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_json(cls, data, source: str = "<vocab>") -> Vocab:
        try:
            obj = json.loads(data) if isinstance(data, (str, bytes)) else data
            if obj.get("format") != "kerasless-vocab":
                raise ValueError("'format' is not 'kerasless-vocab'")
            chars, maxlen, kind = obj["chars"], int(obj["maxlen"]), obj.get("input", "onehot")
            if kind not in ("onehot", "embedding") or not all(isinstance(c, str) and len(c) == 1 for c in chars):
                raise ValueError("'chars' must be single characters and 'input' onehot|embedding")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelFileError(f"{source}: not a kerasless vocabulary ({exc})") from None
        return cls(tuple(chars), maxlen, kind)

    def to_json(self) -> str:
        return json.dumps({"format": "kerasless-vocab", "version": 1, "chars": list(self.chars),
                           "maxlen": self.maxlen, "input": self.input}, ensure_ascii=False)

    def encode(self, text: str) -> list[int]:
        index = self.index
        unknown = sorted({c for c in text if c not in index})
        if unknown:
            hint = " (it has no uppercase letters: try lowercase)" if not any(c.isupper() for c in self.chars) else ""
            raise InputError(f"characters not in the model's vocabulary: {unknown!r}{hint}")
        return [index[c] for c in text]


def find_vocab(model, vocab_path=None) -> Vocab:
    """The vocabulary for ``model``: ``vocab_path``, else the .keras asset, else ``<stem>.vocab.json`` beside it."""
    if vocab_path is not None:
        return Vocab.from_json(Path(vocab_path).read_text(encoding="utf8"), str(vocab_path))
    if ASSET_NAME in model.spec.assets:
        return Vocab.from_json(model.spec.assets[ASSET_NAME].decode("utf8"), f"{model.source}:assets/{ASSET_NAME}")
    beside = Path(os.path.splitext(model.source)[0] + ".vocab.json")
    if beside.exists():
        return Vocab.from_json(beside.read_text(encoding="utf8"), str(beside))
    raise KeraslessError(f"{model.source}: no vocabulary found (looked in assets/{ASSET_NAME} and {beside}); "
                         "pass one with --vocab")


def sample(probs, temperature: float, rng: np.random.Generator) -> int:
    """Next index from a probability vector, exactly as the seed's script does it."""
    p = np.asarray(probs).astype("float64")
    if temperature == 0:
        return int(np.argmax(p))
    with np.errstate(divide="ignore"):
        p = np.exp(np.log(p) / temperature)
    p = p / np.sum(p)
    return int(rng.multinomial(1, p).argmax())


def _encode_steps(vocab: Vocab, ids: list[int]) -> np.ndarray:
    """ids -> model input rows: one-hot (len, n_chars) or ids (len,)."""
    if vocab.input == "embedding":
        return np.asarray(ids, np.float32)
    return np.eye(len(vocab.chars), dtype=np.float32)[ids]


def generate_iter(model, vocab: Vocab, prime: str, length: int, temperature: float = 0.5,
                  random_seed: int | None = None, mode: str = "window") -> Iterator[str]:
    """Yield ``length`` generated characters one at a time (see :func:`generate`)."""
    if mode not in ("window", "stream"):
        raise InputError(f"mode must be 'window' or 'stream', got {mode!r}")
    if temperature < 0:
        raise InputError(f"temperature must be >= 0, got {temperature}")
    rng = np.random.default_rng(random_seed)
    ids = vocab.encode(prime)
    if mode == "stream":
        stream = model.stream(batch_size=1)
        probs = None
        for row in _encode_steps(vocab, ids):
            probs = stream.step(row[None])[0]
        for _ in range(length):
            if probs is None:  # empty prime: first char from an all-zero step, like window mode's padding
                probs = stream.step(np.zeros(stream.step_shape, np.float32))[0]
            nxt = sample(probs, temperature, rng)
            yield vocab.chars[nxt]
            probs = stream.step(_encode_steps(vocab, [nxt]))[0]
        return
    width = len(vocab.chars)
    for _ in range(length):
        window = ids[-vocab.maxlen:]
        x = np.zeros((1, vocab.maxlen, width) if vocab.input == "onehot" else (1, vocab.maxlen), np.float32)
        if window:
            x[0, vocab.maxlen - len(window):] = _encode_steps(vocab, window)  # left-padded with zeros
        nxt = sample(model.predict(x)[0], temperature, rng)
        ids.append(nxt)
        yield vocab.chars[nxt]


def generate(model, vocab: Vocab, prime: str, length: int = 400, temperature: float = 0.5,
             random_seed: int | None = None, mode: str = "window") -> str:
    """Generate text from a char model.

    Args:
        model: a :class:`kerasless.Model` whose output is a softmax over ``vocab.chars``.
        vocab: the model's :class:`Vocab` (see :func:`find_vocab`).
        prime: text to start from (its chars must be in the vocabulary).
        length: number of characters to generate.
        temperature: sampling temperature; 0 = greedy.
        random_seed: seed of ``numpy.random.default_rng``.
        mode: ``window`` (re-run the last ``maxlen`` chars, left-padded with zeros, like the seed) or ``stream``
            (carry the recurrent state, one char per step: O(1) per char).
    Returns:
        the generated characters (without the prime).
    Example:
        >>> text = kerasless.text.generate(model, find_vocab(model), "To be", 200, 0.5, random_seed=1)
    """
    return "".join(generate_iter(model, vocab, prime, length, temperature, random_seed, mode))
