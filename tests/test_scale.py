"""Pickling, and scoring on the real engines: a local Spark (local[2]) and a Dask LocalCluster with two worker
processes, every row compared with model.predict. Fixtures: Keras-written models from tests/fixtures."""

from __future__ import annotations

import copy
import gc
import os
import pickle
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_close

import kerasless

FIXTURES = Path(__file__).parent / "fixtures"
# A masked model (Masking -> LSTM, sequences out), a two-input model, a three-output model (GRU return_state).
ENGINE_CASES = ["mask_lstm_seq", "two_input_concat", "gru_state_outputs"]
ROWS = 3000


def _fixture_models():
    for path in sorted(FIXTURES.glob("*/*/model.*")):
        if not path.parts[-3].startswith("_"):
            yield pytest.param(path, id=f"{path.parts[-3]}-{path.parts[-2]}-{path.suffix[1:]}")


def _fixture_x(d: Path):
    files = sorted(d.glob("x_[0-9]*.npy")) or sorted(d.glob("x.npy")) or [d / "x0.npy"]
    xs = [np.load(f) for f in files if "nonfinite" not in f.name]
    return xs if len(xs) > 1 else xs[0]


def _rows(model, n=ROWS, seed=0) -> list[np.ndarray]:
    """n random samples per input; about a third of the steps zeroed (Masking(0.0) masks them)."""
    rng = np.random.default_rng(seed)
    xs = []
    for shape in model.input_shapes:
        x = rng.normal(size=(n, *shape[1:])).astype(np.float32)
        if x.ndim == 3:
            x[rng.random(x.shape[:2]) < 0.3] = 0.0
        xs.append(x)
    return xs


def _expected(model, xs) -> list[np.ndarray]:
    return model._flat(model.predict(xs if len(xs) > 1 else xs[0]))


def _load(case):
    return kerasless.load(FIXTURES / case / "k3" / "model.keras")


# -- pickling ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", list(_fixture_models()))
def test_pickle_and_copy_predict_the_same(path):
    model = kerasless.load(path)
    x = _fixture_x(path.parent)
    want = _expected(model, x if isinstance(x, list) else [x])
    for other in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        model.reset_states(), other.reset_states()
        got = _expected(other, x if isinstance(x, list) else [x])
        assert len(got) == len(want) and all(np.array_equal(g, w, equal_nan=True) for g, w in zip(got, want))


def test_pickle_carries_assets_and_options(tmp_path):
    src = tmp_path / "m.keras"
    shutil.copy(Path(kerasless.__file__).parent / "data" / "char_lstm.keras", src)
    with zipfile.ZipFile(src) as z:  # the bundled model carries its vocabulary as an asset
        vocab = z.read("assets/kerasless_vocab.json")
    model = kerasless.load(src, max_bytes=1 << 28)
    data = pickle.dumps(model)
    src.unlink()  # the copy needs nothing from the file
    other = pickle.loads(data)
    assert other.spec.assets["kerasless_vocab.json"] == vocab
    assert other._limits.max_bytes == 1 << 28 and other.source == model.source


def test_stream_pickles_with_its_state():
    model = _load("lstm_basic")
    x = _rows(model, 2)[0]
    stream = model.stream(batch_size=2)
    for t in range(2):
        stream.step(x[:, t])
    other = pickle.loads(pickle.dumps(stream))
    for t in range(2, x.shape[1]):
        assert_close(other.step(x[:, t]), stream.step(x[:, t]), label="stream after pickle")


@pytest.mark.keras
def test_from_keras_model_pickles():
    keras = pytest.importorskip("keras")
    k = keras.Sequential([keras.Input((5, 3)), keras.layers.Masking(), keras.layers.GRU(4), keras.layers.Dense(2)])
    model = kerasless.from_keras(k)
    x = _rows(model, 64)[0]
    assert_close(pickle.loads(pickle.dumps(model)).predict(x), k.predict(x, verbose=0), label="from_keras pickled")


def test_shipped_errors_on_a_worker(tmp_path):
    from kerasless.ship import Shipped

    path = tmp_path / "m.keras"
    shutil.copy(FIXTURES / "lstm_basic" / "k3" / "model.keras", path)
    on_worker = pickle.loads(pickle.dumps(Shipped(path)))
    path.unlink()
    with pytest.raises(kerasless.ModelFileError, match="cannot read the model .*readable on every worker"):
        on_worker.get()
    broken = Shipped(_load("lstm_basic"))
    broken.payload = broken.payload[:100]
    with pytest.raises(kerasless.ModelFileError, match="cannot rebuild the model"):
        pickle.loads(pickle.dumps(broken)).get()
    with pytest.raises(kerasless.KeraslessError, match="threads"):
        Shipped(path, threads=0)


@pytest.mark.parametrize("case", ENGINE_CASES + ["stacked_cells", "lstm_basic"])
@pytest.mark.parametrize("batch_size", [None, 7])
def test_predict_leaves_no_reference_cycles(case, batch_size):
    """A long-running worker calls predict millions of times: nothing may wait for the cyclic collector."""
    model = _load(case)
    xs = _rows(model, 20)
    model.predict(xs, batch_size=batch_size)
    gc.collect()
    gc.disable()
    try:
        model.predict(xs, batch_size=batch_size)
        assert gc.collect() == 0
    finally:
        gc.enable()


# -- Spark -------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    pytest.importorskip("pyarrow")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.skip("Spark needs Java (make toolchains installs a JDK)")
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers run this interpreter (and find kerasless)
    session = (SparkSession.builder.master("local[2]").appName("kerasless-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate())
    yield session
    session.stop()


def _frame(spark, xs):
    import pandas as pd

    cols = {f"x{i}": list(x.reshape(len(x), -1)) for i, x in enumerate(xs)}
    return spark.createDataFrame(pd.DataFrame({"id": np.arange(len(xs[0])), **cols})).repartition(4)


@pytest.mark.parametrize("case", ENGINE_CASES)
def test_spark_predict_udf_matches_predict(spark, case):
    from kerasless.spark import output_names, predict_udf

    model = _load(case)
    xs = _rows(model)
    df = _frame(spark, xs).withColumn("y", predict_udf(model, batch_size=500)(*(f"x{i}" for i in range(len(xs)))))
    want = _expected(model, xs)
    names = output_names(model) if len(want) > 1 else ["y"]
    got = df.select("id", "y.*" if len(want) > 1 else "y").toPandas().sort_values("id")
    assert list(got["id"]) == list(range(ROWS))
    for name, w in zip(names, want):
        assert_close(np.stack(got[name].to_numpy()).reshape(w.shape), w, label=f"spark/{case}/{name}")


def test_spark_path_model_and_worker_errors(spark, tmp_path):
    from pyspark.errors import PythonException

    from kerasless.spark import predict_udf

    path = tmp_path / "m.keras"
    shutil.copy(FIXTURES / "mask_lstm_seq" / "k3" / "model.keras", path)
    model = kerasless.load(path)
    xs = _rows(model, 200)
    df = _frame(spark, xs)
    got = df.withColumn("y", predict_udf(str(path))("x0")).orderBy("id").toPandas()
    assert_close(np.stack(got["y"].to_numpy()).reshape(200, 6, 4), model.predict(xs[0]), label="spark/path")
    udf = predict_udf(str(path))
    path.unlink()  # the driver read it; the workers cannot
    with pytest.raises(PythonException, match="ModelFileError.*cannot read the model"):
        df.withColumn("y", udf("x0")).collect()


def test_spark_map_in_pandas_recipe_one_thread(spark):
    from kerasless.spark import Shipped

    model = _load("mask_lstm_seq")
    xs = _rows(model, 1000)
    shipped = Shipped(model)

    def score(batches):  # the README recipe
        m = shipped.get()
        for pdf in batches:
            y = m.predict(np.stack(pdf["x0"].to_numpy()).reshape(len(pdf), 6, 3))
            yield pdf[["id"]].assign(y=list(y.reshape(len(pdf), -1)), threads=int(os.environ["KERASLESS_THREADS"]))

    got = _frame(spark, xs).mapInPandas(score, "id long, y array<float>, threads int").toPandas().sort_values("id")
    assert set(got["threads"]) == {1}
    assert_close(np.stack(got["y"].to_numpy()).reshape(1000, 6, 4), model.predict(xs[0]), label="spark/mapInPandas")


# -- Dask --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        with distributed.Client(c) as client:
            yield client


@pytest.mark.parametrize("case", ENGINE_CASES)
def test_dask_predict_matches_predict(dask_client, case):
    import dask.array as da

    import kerasless.dask

    model = _load(case)
    xs = _rows(model)
    y = kerasless.dask.predict(model, [da.from_array(x, chunks=(700, *x.shape[1:])) for x in xs])
    got = dask_client.compute(y if isinstance(y, list) else [y], sync=True)
    for i, (g, w) in enumerate(zip(got, _expected(model, xs))):
        assert_close(g, w, label=f"dask/{case}/out{i}")
    threads = dask_client.run(lambda: (os.environ.get("KERASLESS_THREADS"), kerasless.native.cores()))
    assert set(threads.values()) == {("1", 1)}


def test_dask_dataframe_recipe_and_worker_errors(dask_client, tmp_path):
    import dask
    import dask.dataframe as dd
    import pandas as pd

    import kerasless.dask

    model = _load("mask_lstm_seq")
    x = _rows(model, 2000)[0]
    cols = [f"f{i}" for i in range(18)]
    ddf = dd.from_pandas(pd.DataFrame(x.reshape(2000, 18), columns=cols), npartitions=4)
    shipped = kerasless.dask.Shipped(model)

    def score(pdf, shipped):  # the README recipe
        y = shipped.get().predict(pdf[cols].to_numpy(np.float32).reshape(len(pdf), 6, 3))
        return pd.DataFrame(y.reshape(len(pdf), -1), index=pdf.index, columns=[f"y{i}" for i in range(24)])

    meta = pd.DataFrame({f"y{i}": pd.Series(dtype="float32") for i in range(24)})
    got = ddf.map_partitions(score, dask.delayed(shipped), meta=meta).compute()
    assert_close(got.to_numpy().reshape(2000, 6, 4), model.predict(x), label="dask/dataframe")

    path = tmp_path / "m.keras"
    shutil.copy(FIXTURES / "mask_lstm_seq" / "k3" / "model.keras", path)
    y = kerasless.dask.predict(path, dd.from_pandas(pd.DataFrame(x[:, 0]), npartitions=2).to_dask_array(True)
                               .reshape(-1, 1, 3).repeat(6, axis=1))
    path.unlink()
    with pytest.raises(kerasless.ModelFileError, match="cannot read the model"):
        y.compute()

