"""Every server setting with its default, and the ``kerasless serve`` flags that set them (one table).
A plain class (no dataclasses): the CLI imports this module to build its parser."""

from __future__ import annotations

MiB = 1 << 20

# name -> (default, help); each is the flag --name-with-dashes
SETTINGS = {
    "host": ("127.0.0.1", "address to listen on"),
    "port": (8501, "TCP port (TF Serving's REST port is 8501)"),
    "max_body_bytes": (32 * MiB, "larger request bodies are refused with 413"),
    "body_timeout": (10.0, "seconds to receive a whole request body, else 408"),
    "max_inflight": (512, "requests handled at once; more are refused with 503"),
    "enable_batching": (False, "run concurrent requests to a model as one predict (off by default, as in TF "
                               "Serving: it pays when predict costs more per call than per row)"),
    "max_batch_size": (64, "rows per batched predict"),
    "batch_timeout_ms": (0.0, ("how long a batch waits for more rows after its first (TF: batch_timeout_micros); "
                               "0: no waiting, a batch is whatever queued while the previous one ran")),
    "max_enqueued_rows": (4096, "rows waiting per model; more are refused with 503"),
    "inline_ms": (2.0, "a predict expected to take less than this runs on the event loop rather than the model's "
                       "thread (a thread hand-off costs more than a small predict); 0: always the thread"),
    "session_ttl": (300.0, "idle seconds before a streaming session expires"),
    "max_sessions": (1024, "open streaming sessions; more are refused with 503"),
    "poll_seconds": (1.0, "rescan model directories this often for new or removed versions (TF Serving's "
                          "file system polling); 0: never"),
    "log_level": ("warning", "uvicorn's log level"),
}


class ServeOptions:
    """Settings of one server; keywords are the SETTINGS names.

    Example:
        >>> ServeOptions(port=8080, enable_batching=True).max_batch_size
        64
    """

    def __init__(self, **settings):
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise TypeError(f"unknown serve options {unknown}; known: {', '.join(SETTINGS)}")
        for name, (default, _) in SETTINGS.items():
            value = settings.get(name, default)
            numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
            if numeric and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"serve option {name} should be a number >= 0, got {value!r}")
            setattr(self, name, value)
        if self.max_batch_size < 1 or self.max_inflight < 1:
            raise ValueError("serve options max_batch_size and max_inflight should be >= 1")

    def __repr__(self) -> str:
        return "ServeOptions(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in SETTINGS) + ")"


def _flag(name: str):
    default, help_text = SETTINGS[name]
    flag = "--" + name.replace("_", "-")
    return (flag,), {"type": type(default), "default": default, "help": help_text,
                     "metavar": type(default).__name__.upper()}


CLI_ARGUMENTS = [
    (("model",), {"nargs": "?", "help": "a .keras/.h5 file, a directory of VERSION/ subdirectories, or a base "
                                        "directory of NAME/VERSION/model.keras (TF Serving's layout)"}),
    (("--name",), {"help": "model name for MODEL (default: the file or directory name)"}),
    (("--model",), {"dest": "models", "action": "append", "default": [], "metavar": "NAME=PATH",
                    "help": "also serve PATH (a file or a directory of versions) as NAME; repeatable"}),
    *[_flag(n) for n in SETTINGS if n not in ("enable_batching", "log_level")],
    (("--enable-batching",), {"action": "store_true", "default": False, "help": SETTINGS["enable_batching"][1]}),
    (("--log-level",), {"default": "warning", "choices": ["critical", "error", "warning", "info", "debug"]}),
]


def options_from_args(args) -> ServeOptions:
    return ServeOptions(**{name: getattr(args, name) for name in SETTINGS})
