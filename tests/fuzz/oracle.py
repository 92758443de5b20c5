"""The Keras oracle: a worker (same protocol as worker.py) that loads a damaged file kerasless accepted with the Keras
that wrote it (Keras 3 for k3, tf_keras for tfk and k22; safe_mode, no compile) and runs it on the same input.

Where Keras answers too, the two answers must agree: a damaged file that both read (a flipped weight bit, a config
value both ignore) must not give a different result in kerasless. Keras's result is pickled next to the case.
"""

from __future__ import annotations

import json
import os
import pickle
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    import resource

    mem = int(sys.argv[1])
    if mem:
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    import faulthandler

    faulthandler.enable(sys.stderr)
    import numpy as np

    mods: dict = {}
    for line in sys.stdin:
        job = json.loads(line)
        try:
            os.chdir(job["dir"])
        except OSError:
            pass
        try:
            name = "keras" if job["writer"] == "k3" else "tf_keras"
            if name not in mods:
                mods[name] = __import__(name)
            keras = mods[name]
            kw = {"compile": False, **({"safe_mode": True} if name == "keras" else {})}
            model = keras.models.load_model(job["path"], **kw)
            with open(job["input"], "rb") as f:
                x = pickle.load(f)  # written by the fuzz parent: trusted
            y = model(x, training=False)
            if isinstance(y, dict):
                y = [y[n] for n in model.output_names]
            y = _numpy(y, np)
            out = os.path.join(job["dir"], "keras_y.pkl")
            with open(out, "wb") as f:
                pickle.dump(y, f, protocol=4)
            res = {"outcome": "keras-ok", "y": out}
        except BaseException as exc:  # noqa: BLE001 - Keras refusing (or failing on) the file is an answer too
            res = {"outcome": "keras-error", "etype": type(exc).__name__, "message": str(exc)[:300]}
        res["id"] = job["id"]
        proto.write(json.dumps(res) + "\n")


def _numpy(v, np):
    if isinstance(v, (list, tuple)):
        return [_numpy(e, np) for e in v]
    return np.asarray(v, dtype=np.float32) if not isinstance(v, np.ndarray) else v


if __name__ == "__main__":
    main()
