"""Command line: a thin table over the public API. ``kerasless --help`` lists the commands."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import load
from .errors import KeraslessError
from .serve.options import CLI_ARGUMENTS as SERVE_ARGUMENTS


def _predict(args):
    model = load(args.model)
    x = np.load(args.input, allow_pickle=False)
    y = model.predict(x, batch_size=args.batch_size)
    if args.out:
        np.save(args.out, y)
        print(f"wrote {args.out}: shape {y.shape}, dtype {y.dtype}")
    else:
        np.set_printoptions(precision=6, suppress=True, threshold=200)
        print(y)


def _summary(args):
    load(args.model).summary()


def _explain(args):
    from .explain import cli_explain

    cli_explain(args)


def _trace(args):
    from .explain import cli_trace

    cli_trace(args)


def _export(args):
    from .export import cli_export

    cli_export(args)


def _generate(args):
    from .demo import PRIME, bundled_model_path
    from .text import find_vocab, generate_iter

    model = load(args.model or bundled_model_path())
    vocab = find_vocab(model, args.vocab)
    prime = PRIME if args.prime is None else args.prime
    vocab.encode(prime)  # refuse unknown characters before printing anything
    sys.stdout.write(prime)
    for ch in generate_iter(model, vocab, prime, args.length, args.temperature, args.random_seed, args.mode):
        sys.stdout.write(ch)
        sys.stdout.flush()
    sys.stdout.write("\n")


def _serve(args):
    from .serve import cli_serve

    cli_serve(args)


def _demo(args):
    from .demo import run_demo

    run_demo()


# name -> (handler, help, [(flags, kwargs), ...])
COMMANDS = {
    "predict": (_predict, "run a model on an input .npy like keras model.predict", [
        (("model",), {"help": "a .keras or legacy .h5 file"}),
        (("input",), {"help": "input array (.npy), shape (batch, *input_shape)"}),
        (("--out",), {"help": "write the output here (.npy); default: print it"}),
        (("--batch-size",), {"type": int, "default": None, "help": "rows per chunk (default: all)"}),
    ]),
    "summary": (_summary, "print the layer table (name, class, output shape, params)", [
        (("model",), {"help": "a .keras or legacy .h5 file"}),
    ]),
    "explain": (_explain, "say what every weight array and gate block means, with equations", [
        (("model",), {"help": "a .keras or legacy .h5 file"}),
        (("--format",), {"choices": ["text", "markdown", "json"], "default": "text"}),
        (("--plot",), {"metavar": "PNG", "help": "draw the weight map as heatmaps (needs kerasless[plot])"}),
        (("--html",), {"metavar": "HTML", "help": "write a self-contained HTML report (needs kerasless[plot])"}),
        (("--input",), {"metavar": "NPY", "help": "with --html: also trace the gates on this input"}),
    ]),
    "trace": (_trace, "record every gate activation and state at every timestep", [
        (("model",), {"help": "a .keras or legacy .h5 file"}),
        (("input",), {"help": "input array (.npy)"}),
        (("--out",), {"metavar": "NPZ", "help": "write the trace here (.npz)"}),
        (("--plot",), {"metavar": "PNG", "help": "draw gate activations over time (needs kerasless[plot])"}),
    ]),
    "export": (_export, "write standalone C / JavaScript / Java / NumPy / web code that reproduces predict", [
        (("model",), {"help": "a .keras or legacy .h5 file"}),
        (("--target",), {"required": True, "choices": ["c", "js", "java", "numpy", "web"]}),
        (("--out",), {"required": True, "metavar": "DIR"}),
        (("--name",), {"default": "model", "help": "base name of the generated files and symbols"}),
        (("--verify",), {"type": int, "default": 0, "metavar": "N",
                         "help": "run the generated code on N random inputs with the real toolchain and compare"}),
        (("--weights-file",), {"action": "store_true",
                               "help": "write weights to a binary file + JSON manifest instead of source literals "
                                       "(numpy always writes an .npz)"}),
        (("--input-shape",), {"metavar": "DIMS", "default": None,
                              "help": "per-sample input shape for models with None dims, e.g. 40,60"}),
    ]),
    "generate": (_generate, "generate text with a char-level model (default: the bundled Shakespeare LSTM)", [
        (("model",), {"nargs": "?", "help": "a char model (.keras/.h5); default: the bundled one"}),
        (("--prime",), {"help": "text to start from (default: a line of Hamlet)"}),
        (("--length",), {"type": int, "default": 400}),
        (("--temperature",), {"type": float, "default": 0.5, "help": "0 = greedy"}),
        (("--random-seed",), {"type": int, "default": None}),
        (("--mode",), {"choices": ["window", "stream"], "default": "window",
                       "help": "window: re-run the last maxlen chars (the seed's way); stream: carry state, O(1)/char"}),
        (("--vocab",), {"metavar": "JSON", "help": "vocabulary file (default: inside the model or beside it)"}),
    ]),
    "serve": (_serve, "serve models over TF Serving's REST API (needs kerasless[serve])", SERVE_ARGUMENTS),
    "demo": (_demo, "run the bundled model and compare with the stored Keras output", []),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kerasless", description="Run trained Keras models without TensorFlow.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (handler, help_text, arguments) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        for flags, kwargs in arguments:
            p.add_argument(*flags, **kwargs)
        p.set_defaults(handler=handler)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except BrokenPipeError:  # e.g. `kerasless explain m.keras | head`
        return 0
    except (KeraslessError, OSError, ValueError) as exc:  # our errors; unreadable .npy inputs and the like
        print(f"kerasless: error: {exc}", file=sys.stderr)
        return 2
    return 0
