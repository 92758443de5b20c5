#!/usr/bin/env python
"""Write the golden fixtures under tests/fixtures/.  THE ONLY script that
imports Keras to produce fixtures; the tests themselves read .npy/.h5/.keras.

Usage::

    python tests/make_fixtures.py                       # everything
    python tests/make_fixtures.py --only lstm_basic gru_basic
    python tests/make_fixtures.py --writer k3 --writer tfk
    python tests/make_fixtures.py --only _unsafe        # only the unsafe files
    python tests/make_fixtures.py --list
    python tests/make_fixtures.py --meta-only           # refresh meta.json only

Layout (``<case>`` from ``keras_cases.CASES``)::

    fixtures/<case>/meta.json          description, notes, per writer: present
                                       (files, version, reload check) or the
                                       reason it is skipped; cross-writer diff
    fixtures/<case>/k3/model.keras     Keras 3 (3.15.1) native zip
    fixtures/<case>/k3/model.h5        Keras 3 legacy HDF5 (same model)
    fixtures/<case>/tfk/model.h5       tf_keras 2.21 legacy HDF5
    fixtures/<case>/k22/model.h5       Keras 2.2.4-style HDF5 (SYNTHESIZED, below)
    fixtures/<case>/<writer>/x.npy     input (float32, or int32 token ids)
    fixtures/<case>/<writer>/y.npy     model.predict(x) as float32
    fixtures/<case>/<writer>/x_nonfinite.npy, y_nonfinite.npy
                                       x with NaN, +inf, -inf in rows 1-3 (float
                                       inputs, not stateful) and what Keras's
                                       own reload of the file predicts for it
    stateful cases instead: x0.npy x1.npy x2.npy y0.npy y1.npy y2.npy
                                       (three consecutive predicts, no reset)
    fixtures/_unsafe/*.keras|*.h5      models with a Lambda / a custom layer that
                                       a loader must refuse (see UNSAFE_README)
    fixtures/INDEX.json                case -> writers present

Writers
-------
k3   Keras 3 (``import keras``, TF backend).  ``model.save('model.keras')`` and
     ``model.save('model.h5')`` of the same model, before any predict.
tfk  tf_keras 2.x (``import tf_keras as keras``), ``model.save('model.h5')``.
k22  Keras 2.2.4 cannot be installed on Python 3.11, so its files are
     SYNTHESIZED with h5py from the tf_keras file of the same case, reproducing
     what keras/engine/saving.py (_serialize_model + utils/io_utils.H5Dict) of
     Keras 2.2.4 wrote:
       * root attrs, in this order: keras_version=b'2.2.4', backend=b'tensorflow',
         model_config=<JSON bytes>; all are *fixed-length byte strings* (2.2.4
         did ``str(...).encode('utf8')`` and h5py 2.x stored bytes fixed-length;
         h5py 3 reads them back as numpy.bytes_), not the variable-length str
         that tf_keras / Keras 3 write.  No training_config (never compiled).
       * group model_weights with attrs layer_names (array of fixed-length
         bytes), backend, keras_version; one group per layer (no InputLayer)
         with attr weight_names; datasets at
         ``model_weights/<layer>/<weight name>`` where the weight name is
         ``<layer>/kernel:0`` -- no cell scope, since 2.2.4's RNN cell built
         its variables in the RNN layer's name scope.  Bidirectional:
         ``bidirectional_1/forward_lstm_1/kernel:0`` ... then backward_.
         Embedding: ``embedding_1/embeddings:0``.
       * layer names get 2.2.4's per-class ``_1`` counters (lstm_1, dense_1,
         dense_2, bidirectional_1 wrapping lstm_1 ...), model name sequential_1.
       * model_config = {"class_name": "Sequential", "config": {"name":
         "sequential_1", "layers": [...]}}: NO InputLayer; the first layer
         carries batch_input_shape and dtype ("float32", even for Embedding);
         per-layer keys in 2.2.4's get_config order, initializers as 2.2.4
         serialized them (glorot_uniform -> VarianceScaling fan_avg uniform),
         LSTM/GRU "implementation": 1, no "time_major", no "module" /
         "registered_name" keys.
     x, y are the tf_keras ones (same weights).  The k22 subset includes the
     hard_sigmoid cases (2.2.4's LSTM/GRU default recurrent_activation): their
     y uses the Keras 2 formula clip(0.2x+0.5, 0, 1), as 2.2.4 computed it.  Each k22 file is checked by loading it with
     tf_keras and re-predicting.  Reference: a real 2.2.4 Sequential dump
     (Bidirectional(LSTM), Embedding, Dense; keras_version "2.2.4") and
     keras-team/keras 2.2.x sources (engine/saving.py, engine/sequential.py,
     layers/recurrent.py, utils/io_utils.py).

Determinism: each case uses ``numpy.random.default_rng(crc32(case name))``
plus ``set_random_seed`` of the writer; running twice gives identical x/y
and, apart from the .keras zip, byte-identical model files (a .keras zip
carries a save date and Python object ids; when nothing else changed the
previous zip is kept, so re-running does not churn the repository).

Unsafe fixtures: their Lambda, ``lambda x: (open('/tmp/kerasless_pwned','w')
.close(), x)[1]``, RUNS while the model is built (Keras calls it on a symbolic
tensor), so generation creates /tmp/kerasless_pwned; this script deletes it
afterwards (unless it existed before the run, then it warns and leaves it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import keras_cases as kc  # noqa: E402

FIXTURES = HERE / "fixtures"
UNSAFE = FIXTURES / "_unsafe"
PWNED = "/tmp/kerasless_pwned"


def _quiet():
    warnings.filterwarnings("ignore")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        import absl.logging
        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover
        pass


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _save_xy(d: Path, name: str, xs, ys):
    if name in kc.STATEFUL:
        for i, (x, y) in enumerate(zip(xs, ys)):
            np.save(d / f"x{i}.npy", x)
            np.save(d / f"y{i}.npy", y)
    else:
        _save_one(d, "x", xs[0])
        _save_one(d, "y", ys[0])


def _save_one(d: Path, stem: str, value):
    """One array as <stem>.npy; a list (several inputs/outputs) as <stem>_0.npy, <stem>_1.npy, ..."""
    if isinstance(value, (list, tuple)):
        for i, a in enumerate(value):
            np.save(d / f"{stem}_{i}.npy", a)
    else:
        np.save(d / f"{stem}.npy", value)


def _load_one(d: Path, stem: str):
    if (d / f"{stem}.npy").exists():
        return np.load(d / f"{stem}.npy")
    out, i = [], 0
    while (d / f"{stem}_{i}.npy").exists():
        out.append(np.load(d / f"{stem}_{i}.npy"))
        i += 1
    return out


def _load_xy(d: Path, name: str):
    if name in kc.STATEFUL:
        return ([np.load(d / f"x{i}.npy") for i in range(3)],
                [np.load(d / f"y{i}.npy") for i in range(3)])
    return [_load_one(d, "x")], [_load_one(d, "y")]


def _predict_all(model, xs):
    """Consecutive predicts (stateful cases rely on no reset in between)."""
    out = []
    for x in xs:
        y = model.predict(x, verbose=0)
        if isinstance(y, dict):
            y = [y[n] for n in model.output_names]
        out.append([np.asarray(a, dtype=np.float32) for a in _flat([y])] if isinstance(y, (list, tuple))
                   else np.asarray(y, dtype=np.float32))
    return out


def _flat(arrays):
    """[array or list of arrays] -> flat list of arrays."""
    out = []
    for a in arrays:
        out.extend(_flat(a) if isinstance(a, (list, tuple)) else [a])
    return out


def _fresh_dir(d: Path) -> Path:
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    return d


def _keras_zip_key(data: bytes):
    """What matters in a .keras zip: metadata without the save date, config
    with shared_object_id (a Python id()) renumbered, the weight files."""
    import io
    import re
    import zipfile
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        key = {}
        for n in sorted(z.namelist()):
            b = z.read(n)
            if n == "metadata.json":
                m = json.loads(b)
                m.pop("date_saved", None)
                b = json.dumps(m, sort_keys=True).encode()
            elif n == "config.json":
                ids = {}
                b = re.sub(rb'"shared_object_id": (\d+)',
                           lambda mo: b'"shared_object_id": %d'
                           % ids.setdefault(mo.group(1), len(ids)), b)
            key[n] = b
        return key


def _keep_old_keras_if_equivalent(old: bytes | None, path: Path):
    """Keep the previous .keras bytes when only the save date / object ids
    changed, so that regenerating does not churn the repository."""
    if old is not None and _keras_zip_key(old) == _keras_zip_key(path.read_bytes()):
        path.write_bytes(old)


def _save_keras_zip(model, path: Path):
    old = path.read_bytes() if path.exists() else None
    model.save(path)
    _keep_old_keras_if_equivalent(old, path)


def _reload_check(load, path, xs, ys, tol=1e-5):
    """Reload a saved model and re-predict; returns 'ok' or a reason."""
    try:
        model = load(str(path))
        got = _predict_all(model, xs)
    except Exception as e:  # noqa: BLE001 -- record, do not abort
        return f"reload failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
    diff = max(float(np.max(np.abs(g - y))) for g, y in zip(_flat(got), _flat(ys)))
    return "ok" if diff <= tol else f"re-predict differs: max abs diff {diff:.3g}"


# ----------------------------------------------------------------------------
# writer: Keras 3
# ----------------------------------------------------------------------------

def write_k3(names, results):
    import keras
    _quiet()
    for name in names:
        if kc.writers_for(name)["k3"]:
            continue
        keras.backend.clear_session()
        keras.utils.set_random_seed(kc.seed_for(name) % (2 ** 31))
        model, x = kc.CASES[name](keras, kc.rng_for(name))
        old_zip = FIXTURES / name / "k3" / "model.keras"
        old_zip = old_zip.read_bytes() if old_zip.exists() else None
        d = _fresh_dir(FIXTURES / name / "k3")
        model.save(d / "model.keras")
        _keep_old_keras_if_equivalent(old_zip, d / "model.keras")
        model.save(d / "model.h5")
        xs = _as_tuple(x)
        ys = _predict_all(model, xs)
        _save_xy(d, name, xs, ys)
        checks = {}
        for fn in ("model.keras", "model.h5"):
            keras.backend.clear_session()
            checks[fn] = _reload_check(
                lambda p: keras.saving.load_model(p, compile=False), d / fn, xs, ys)
        results[(name, "k3")] = {"keras_version": keras.__version__,
                                 "backend": keras.backend.backend(),
                                 "reload_check": checks}
        print(f"k3   {name}: {[c for c in checks.values()]}", flush=True)


# ----------------------------------------------------------------------------
# writer: tf_keras
# ----------------------------------------------------------------------------

def write_tfk(names, results):
    import tf_keras as keras
    _quiet()
    for name in names:
        if kc.writers_for(name)["tfk"]:
            continue
        keras.backend.clear_session()
        keras.utils.set_random_seed(kc.seed_for(name) % (2 ** 31))
        model, x = kc.CASES[name](keras, kc.rng_for(name))
        d = _fresh_dir(FIXTURES / name / "tfk")
        model.save(d / "model.h5", include_optimizer=False)
        xs = _as_tuple(x)
        ys = _predict_all(model, xs)
        _save_xy(d, name, xs, ys)
        keras.backend.clear_session()
        check = _reload_check(
            lambda p: keras.models.load_model(p, compile=False), d / "model.h5", xs, ys)
        results[(name, "tfk")] = {"keras_version": keras.__version__,
                                  "reload_check": {"model.h5": check}}
        print(f"tfk  {name}: {check}", flush=True)


# ----------------------------------------------------------------------------
# NaN / inf inputs: what Keras gives for them, per writer (x_nonfinite, y_nonfinite)
# ----------------------------------------------------------------------------

NONFINITE = (np.nan, np.inf, -np.inf)


def nonfinite_input(x):
    """The case's input with NaN, +inf and -inf put in rows 1, 2, 3 (row 0 stays finite); float inputs only."""
    if isinstance(x, (list, tuple)):
        return [nonfinite_input(a) for a in x]
    x = np.array(x, copy=True)
    if x.dtype.kind != "f" or x.ndim < 2:
        return x
    for row, value in zip(range(1, x.shape[0]), NONFINITE):
        flat = x[row].reshape(-1)
        flat[(7 * row) % flat.size] = value
        x[row] = flat.reshape(x[row].shape)
    return x


def write_nonfinite(names, writers):
    """Reload each written model with its own Keras and predict the non-finite variant of its input."""
    loaders = {}
    if "k3" in writers:
        import keras
        loaders["k3"] = ("model.keras", lambda p: keras.saving.load_model(p, compile=False), keras)
    if "tfk" in writers:
        import tf_keras
        loaders["tfk"] = ("model.h5", lambda p: tf_keras.models.load_model(p, compile=False), tf_keras)
    _quiet()
    for name in names:
        if name in kc.STATEFUL:
            continue
        for w, (fn, load, keras) in loaders.items():
            d = FIXTURES / name / w
            for old in d.glob("*_nonfinite*.npy"):
                old.unlink()
            if not (d / fn).exists():
                continue
            xs, _ = _load_xy(d, name)
            x = nonfinite_input(xs[0])
            if all(np.isfinite(a).all() for a in _flat([x])):
                continue  # integer token ids: nothing to make non-finite
            keras.backend.clear_session()
            try:
                model = load(d / fn)
            except Exception as e:  # noqa: BLE001  (a writer that cannot reload its own file: no reference)
                print(f"nonfinite {name}/{w}: reload failed ({type(e).__name__}); skipped")
                continue
            with np.errstate(all="ignore"):
                y = _predict_all(model, [x])[0]
            _save_one(d, "x_nonfinite", x)
            _save_one(d, "y_nonfinite", y)
            print(f"nonfinite {name}/{w}", flush=True)


# ----------------------------------------------------------------------------
# writer: Keras 2.2.4 (synthesized from the tf_keras file)
# ----------------------------------------------------------------------------

K22_VERSION = "2.2.4"

_SNAKE = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "simple_rnn",
          "Dense": "dense", "Embedding": "embedding",
          "Bidirectional": "bidirectional"}


def _k22_init(cfg):
    """Initializer as Keras 2.2.4 serialized it."""
    cls = cfg["class_name"] if isinstance(cfg, dict) else cfg
    if cls in ("GlorotUniform", "glorot_uniform"):
        return {"class_name": "VarianceScaling",
                "config": {"scale": 1.0, "mode": "fan_avg",
                           "distribution": "uniform", "seed": None}}
    if cls in ("Orthogonal", "orthogonal"):
        return {"class_name": "Orthogonal", "config": {"gain": 1.0, "seed": None}}
    if cls in ("Zeros", "zeros"):
        return {"class_name": "Zeros", "config": {}}
    if cls in ("RandomUniform", "uniform"):
        return {"class_name": "RandomUniform",
                "config": {"minval": -0.05, "maxval": 0.05, "seed": None}}
    raise ValueError(f"k22: no 2.2.4 serialization for initializer {cls}")


def _k22_base(name, first_layer_shape):
    cfg = {"name": name, "trainable": True}
    if first_layer_shape is not None:
        cfg["batch_input_shape"] = first_layer_shape
        cfg["dtype"] = "float32"
    return cfg


def _k22_rnn_common(c):
    return {"return_sequences": c["return_sequences"],
            "return_state": c["return_state"],
            "go_backwards": c["go_backwards"],
            "stateful": c["stateful"],
            "unroll": c["unroll"]}


def _k22_layer(cls, c, name, first_shape, inner_name=None):
    """2.2.4 get_config() of one layer, from a tf_keras config ``c``."""
    cfg = _k22_base(name, first_shape)
    if cls == "Dense":
        cfg.update({
            "units": c["units"], "activation": c["activation"],
            "use_bias": c["use_bias"],
            "kernel_initializer": _k22_init(c["kernel_initializer"]),
            "bias_initializer": _k22_init(c["bias_initializer"]),
            "kernel_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None,
            "bias_constraint": None})
    elif cls == "Embedding":
        cfg.update({
            "input_dim": c["input_dim"], "output_dim": c["output_dim"],
            "embeddings_initializer": _k22_init(c["embeddings_initializer"]),
            "embeddings_regularizer": None, "activity_regularizer": None,
            "embeddings_constraint": None, "mask_zero": c["mask_zero"],
            "input_length": (first_shape[1] if first_shape else None)})
    elif cls == "SimpleRNN":
        cfg.update(_k22_rnn_common(c))
        cfg.update({
            "units": c["units"], "activation": c["activation"],
            "use_bias": c["use_bias"],
            "kernel_initializer": _k22_init(c["kernel_initializer"]),
            "recurrent_initializer": _k22_init(c["recurrent_initializer"]),
            "bias_initializer": _k22_init(c["bias_initializer"]),
            "kernel_regularizer": None, "recurrent_regularizer": None,
            "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "recurrent_constraint": None,
            "bias_constraint": None,
            "dropout": c["dropout"], "recurrent_dropout": c["recurrent_dropout"]})
    elif cls in ("LSTM", "GRU"):
        cfg.update(_k22_rnn_common(c))
        cfg.update({
            "units": c["units"], "activation": c["activation"],
            "recurrent_activation": c["recurrent_activation"],
            "use_bias": c["use_bias"],
            "kernel_initializer": _k22_init(c["kernel_initializer"]),
            "recurrent_initializer": _k22_init(c["recurrent_initializer"]),
            "bias_initializer": _k22_init(c["bias_initializer"])})
        if cls == "LSTM":
            cfg["unit_forget_bias"] = c["unit_forget_bias"]
        cfg.update({
            "kernel_regularizer": None, "recurrent_regularizer": None,
            "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "recurrent_constraint": None,
            "bias_constraint": None,
            "dropout": c["dropout"], "recurrent_dropout": c["recurrent_dropout"],
            "implementation": 1})
        if cls == "GRU":
            cfg["reset_after"] = c["reset_after"]
    elif cls == "Bidirectional":
        inner = c["layer"]
        cfg["layer"] = {"class_name": inner["class_name"],
                        "config": _k22_layer(inner["class_name"], inner["config"],
                                             inner_name, None)}
        cfg["merge_mode"] = c["merge_mode"]
    else:
        raise ValueError(f"k22: layer class {cls} not supported by the synthesizer")
    return cfg


def synthesize_k22(src: Path, dst: Path):
    """Rewrite a tf_keras Sequential .h5 as Keras 2.2.4 would have written it."""
    with h5py.File(src, "r") as f:
        mc = json.loads(f.attrs["model_config"])
        assert mc["class_name"] == "Sequential", "k22 synthesizer: Sequential only"
        tf_layers = mc["config"]["layers"]
        assert tf_layers[0]["class_name"] == "InputLayer"
        batch_shape = tf_layers[0]["config"]["batch_input_shape"]
        tf_layers = tf_layers[1:]
        mw = f["model_weights"]
        # the weights, per tf_keras layer name, in weight_names order
        tf_weights = {}
        for lname in mw.attrs["layer_names"]:
            lname = lname.decode() if isinstance(lname, bytes) else str(lname)
            g = mw[lname]
            wn = [w.decode() if isinstance(w, bytes) else str(w)
                  for w in g.attrs["weight_names"]]
            tf_weights[lname] = [(w, np.asarray(g[w])) for w in wn]

    counters: dict = {}

    def new_name(cls):
        base = _SNAKE[cls]
        counters[base] = counters.get(base, 0) + 1
        return f"{base}_{counters[base]}"

    layers_cfg, weights = [], []   # weights: (layer name, [(weight name, array)])
    for i, L in enumerate(tf_layers):
        cls, c = L["class_name"], L["config"]
        first = batch_shape if i == 0 else None
        inner_name = None
        if cls == "Bidirectional":
            inner_name = new_name(c["layer"]["class_name"])   # built before the wrapper
        name = new_name(cls)
        layers_cfg.append({"class_name": cls,
                           "config": _k22_layer(cls, c, name, first, inner_name)})
        ws = []
        for wname, arr in tf_weights[c["name"]]:
            leaf = wname.split("/")[-1]                    # kernel:0
            if cls == "Bidirectional":
                direction = wname.split("/")[1].split("_")[0]   # forward|backward
                ws.append((f"{name}/{direction}_{inner_name}/{leaf}", arr))
            else:
                ws.append((f"{name}/{leaf}", arr))
        weights.append((name, ws))

    model_config = {"class_name": "Sequential",
                    "config": {"name": "sequential_1", "layers": layers_cfg}}
    dst.parent.mkdir(parents=True, exist_ok=True)
    # h5py 2.x (what 2.2.4 ran on) stored a bytes attribute as a fixed-length
    # string; h5py 3 would store plain bytes as variable-length, hence np.bytes_.
    fixed = np.bytes_
    with h5py.File(dst, "w") as f:
        f.attrs["keras_version"] = fixed(K22_VERSION.encode("utf8"))
        f.attrs["backend"] = fixed(b"tensorflow")
        f.attrs["model_config"] = fixed(json.dumps(model_config).encode("utf-8"))
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.asarray([n.encode("utf8") for n, _ in weights])
        mw.attrs["backend"] = fixed(b"tensorflow")
        mw.attrs["keras_version"] = fixed(K22_VERSION.encode("utf8"))
        for lname, ws in weights:
            g = mw.create_group(lname)
            names = [w.encode("utf8") for w, _ in ws]
            g.attrs["weight_names"] = np.asarray(names) if names else []
            for wname, arr in ws:
                ds = g.create_dataset(wname, arr.shape, dtype=arr.dtype)
                ds[...] = arr


def write_k22(names, results):
    todo = [n for n in names if not kc.writers_for(n)["k22"]]
    missing = [n for n in todo if not (FIXTURES / n / "tfk" / "model.h5").exists()]
    if missing:
        write_tfk(missing, results)
    import tf_keras as keras
    _quiet()
    for name in todo:
        src = FIXTURES / name / "tfk"
        d = _fresh_dir(FIXTURES / name / "k22")
        synthesize_k22(src / "model.h5", d / "model.h5")
        xs, ys = _load_xy(src, name)
        _save_xy(d, name, xs, ys)
        keras.backend.clear_session()
        check = _reload_check(
            lambda p: keras.models.load_model(p, compile=False), d / "model.h5", xs, ys)
        results[(name, "k22")] = {
            "keras_version": K22_VERSION, "synthesized": True,
            "synthesized_from": "../tfk/model.h5",
            "reload_check": {"model.h5 (loaded with tf_keras)": check}}
        print(f"k22  {name}: {check}", flush=True)


# ----------------------------------------------------------------------------
# unsafe fixtures
# ----------------------------------------------------------------------------

UNSAFE_README = {
    "purpose": "A loader must refuse every file here WITHOUT executing anything. "
               "If any Python from these files runs, /tmp/kerasless_pwned is created.",
    "lambda_code": "lambda x: (open('/tmp/kerasless_pwned', 'w').close(), x)[1]",
    "files": {
        "k3_lambda.keras": "Keras 3 .keras: Input(5,3) -> Lambda(<lambda_code>) -> LSTM(4) -> Dense(2); "
                           "config.json holds the lambda as marshalled, base64 bytecode",
        "k3_lambda.h5": "the same model, Keras 3 legacy .h5",
        "tfk_lambda.h5": "tf_keras .h5: same architecture, lambda serialized by tf_keras",
        "k3_custom_layer.keras": "Keras 3 .keras: Input(5,3) -> LSTM(4, seq) -> "
                                 "kerasless_test>TimesTwo (registered custom Layer) -> Dense(2)",
        "k3_custom_layer.h5": "the same model, Keras 3 legacy .h5",
        "tfk_custom_layer.h5": "tf_keras .h5 with registered custom layer "
                               "'kerasless_test>TimesTwo'",
    },
}


def _pwn_lambda():
    return lambda x: (open('/tmp/kerasless_pwned', 'w').close(), x)[1]


def write_unsafe(writers):
    UNSAFE.mkdir(parents=True, exist_ok=True)
    if "k3" in writers:
        import keras
        _quiet()

        @keras.saving.register_keras_serializable(package="kerasless_test")
        class TimesTwo(keras.layers.Layer):
            def call(self, x):
                return x * 2.0

        keras.backend.clear_session()
        m = kc.seq(keras, (5, 3), [keras.layers.Lambda(_pwn_lambda(), output_shape=(5, 3)),
                                   keras.layers.LSTM(4), keras.layers.Dense(2)])
        _save_keras_zip(m, UNSAFE / "k3_lambda.keras")
        m.save(UNSAFE / "k3_lambda.h5")
        keras.backend.clear_session()
        m = kc.seq(keras, (5, 3), [keras.layers.LSTM(4, return_sequences=True),
                                   TimesTwo(), keras.layers.Dense(2)])
        _save_keras_zip(m, UNSAFE / "k3_custom_layer.keras")
        m.save(UNSAFE / "k3_custom_layer.h5")
        # Keras 3 itself must refuse the lambda in safe mode.
        try:
            keras.saving.load_model(UNSAFE / "k3_lambda.keras")
            print("WARNING: Keras 3 loaded k3_lambda.keras in safe mode!")
        except Exception as e:  # noqa: BLE001
            print(f"unsafe: Keras 3 safe_mode refuses k3_lambda.keras ({type(e).__name__})")
    if "tfk" in writers:
        import tf_keras as keras
        _quiet()

        @keras.utils.register_keras_serializable(package="kerasless_test")
        class TimesTwo(keras.layers.Layer):  # noqa: F811
            def call(self, x):
                return x * 2.0

        keras.backend.clear_session()
        m = kc.seq(keras, (5, 3), [keras.layers.Lambda(_pwn_lambda()),
                                   keras.layers.LSTM(4), keras.layers.Dense(2)])
        m.save(UNSAFE / "tfk_lambda.h5", include_optimizer=False)
        keras.backend.clear_session()
        m = kc.seq(keras, (5, 3), [keras.layers.LSTM(4, return_sequences=True),
                                   TimesTwo(), keras.layers.Dense(2)])
        m.save(UNSAFE / "tfk_custom_layer.h5", include_optimizer=False)
    (UNSAFE / "meta.json").write_text(json.dumps(UNSAFE_README, indent=2) + "\n")


# ----------------------------------------------------------------------------
# meta.json
# ----------------------------------------------------------------------------

def _files(d: Path):
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def _h5_weights(path: Path):
    """All weights of a legacy .h5 in get_weights() order (layer_names, then
    weight_names)."""
    def s(v):
        return v.decode() if isinstance(v, bytes) else str(v)
    out = []
    with h5py.File(path, "r") as f:
        mw = f["model_weights"]
        for ln in mw.attrs["layer_names"]:
            g = mw[s(ln)]
            out += [np.asarray(g[s(w)]) for w in g.attrs["weight_names"]]
    return out


def write_meta(name, results):
    path = FIXTURES / name / "meta.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    old_w = old.get("writers", {})
    meta = {
        "case": name,
        "description": kc.DESCRIPTIONS[name],
        "notes": kc.NOTES.get(name, []),
        "seed": kc.seed_for(kc.EXTREME[name][0] if name in kc.EXTREME else name),
        "stateful": name in kc.STATEFUL,
        "extreme_of": kc.EXTREME[name][0] if name in kc.EXTREME else None,
        "x_scale": kc.EXTREME[name][1] if name in kc.EXTREME else None,
        "writers": {},
    }
    ys = {}
    for w, reason in kc.writers_for(name).items():
        d = FIXTURES / name / w
        if reason is not None:
            meta["writers"][w] = {"present": False, "reason": reason}
            if d.exists():
                shutil.rmtree(d)
            continue
        if not d.is_dir():
            meta["writers"][w] = {"present": False,
                                  "reason": "not generated yet (run make_fixtures.py)"}
            continue
        entry = {"present": True, "files": _files(d)}
        info = results.get((name, w)) or {
            k: v for k, v in old_w.get(w, {}).items() if k not in ("present", "files")}
        entry.update(info)
        xs, yy = _load_xy(d, name)
        x0, y0 = xs[0], yy[0]
        entry["x_shape"] = [list(a.shape) for a in x0] if isinstance(x0, list) else list(x0.shape)
        entry["x_dtype"] = str((x0[0] if isinstance(x0, list) else x0).dtype)
        entry["y_shape"] = [list(a.shape) for a in y0] if isinstance(y0, list) else list(y0.shape)
        meta["writers"][w] = entry
        ys[w] = (xs, yy)
    if "k3" in ys and "tfk" in ys:
        same_x = all(np.array_equal(a, b) for a, b in zip(_flat(ys["k3"][0]), _flat(ys["tfk"][0])))
        diff = max(float(np.nanmax(np.abs(a - b))) for a, b in zip(_flat(ys["k3"][1]), _flat(ys["tfk"][1])))
        wa = _h5_weights(FIXTURES / name / "k3" / "model.h5")
        wb = _h5_weights(FIXTURES / name / "tfk" / "model.h5")
        same_w = len(wa) == len(wb) and all(
            a.shape == b.shape and np.array_equal(a, b) for a, b in zip(wa, wb))
        meta["cross_writer"] = {"same_x_k3_tfk": same_x,
                                "same_weights_k3_tfk": same_w,
                                "max_abs_diff_y_k3_vs_tfk": diff}
    path.write_text(json.dumps(meta, indent=2) + "\n")


def write_index():
    index = {}
    for d in sorted(FIXTURES.iterdir()):
        mp = d / "meta.json"
        if d.name.startswith("_") or not mp.exists():
            continue
        if d.name not in kc.CASES:          # a case that no longer exists
            shutil.rmtree(d)
            continue
        meta = json.loads(mp.read_text())
        index[d.name] = sorted(w for w, e in meta["writers"].items() if e["present"])
    (FIXTURES / "INDEX.json").write_text(json.dumps(index, indent=1) + "\n")


# ----------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="CASE",
                    help="cases to (re)generate; '_unsafe' selects the unsafe files")
    ap.add_argument("--writer", action="append", choices=kc.WRITERS,
                    help="writer(s) to run (repeatable); default all")
    ap.add_argument("--list", action="store_true", help="list cases and exit")
    ap.add_argument("--nonfinite-only", action="store_true",
                    help="only (re)write the NaN/inf variants x_nonfinite/y_nonfinite of the cases on disk")
    ap.add_argument("--meta-only", action="store_true",
                    help="only rewrite meta.json files and INDEX.json from what is "
                         "on disk (no Keras)")
    args = ap.parse_args(argv)
    if args.list:
        for n in kc.CASES:
            print(f"{n:40s} {kc.DESCRIPTIONS[n]}")
        return 0
    writers = args.writer or list(kc.WRITERS)
    only = args.only or list(kc.CASES) + ["_unsafe"]
    unknown = [n for n in only if n != "_unsafe" and n not in kc.CASES]
    if unknown:
        ap.error(f"unknown case(s): {', '.join(unknown)}")
    names = [n for n in kc.CASES if n in only]

    if args.nonfinite_only:
        write_nonfinite(names, writers)
        return 0
    if args.meta_only:
        for n in names:
            write_meta(n, {})
        write_index()
        return 0

    existed = os.path.exists(PWNED)
    results = {}
    try:
        if "k3" in writers:
            write_k3(names, results)
        if "tfk" in writers:
            write_tfk(names, results)
        if "k22" in writers:
            write_k22(names, results)
        write_nonfinite(names, writers)
        if "_unsafe" in only:
            write_unsafe(writers)
    finally:
        if os.path.exists(PWNED):
            if existed:
                print(f"WARNING: {PWNED} existed before this run; left in place")
            else:
                os.remove(PWNED)
                print(f"removed {PWNED} (created while building the Lambda models)")
    for n in names:
        write_meta(n, results)
    write_index()
    bad = {k: v for k, v in results.items()
           if any(c != "ok" for c in v.get("reload_check", {}).values())}
    for (n, w), v in sorted(bad.items()):
        print(f"NOTE reload check {n}/{w}: {v['reload_check']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
