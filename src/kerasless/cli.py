"""Command line: a thin table over the public API. ``kerasless --help`` lists the commands."""

from __future__ import annotations

import argparse
import sys

from . import __version__, load
from .errors import InputError, KeraslessError
from .export_targets import TARGETS as EXPORT_TARGETS
from .serve.options import CLI_ARGUMENTS as SERVE_ARGUMENTS


def _predict(args):
    from .data_io import to_json, write_output

    model = load(args.model)
    x = read_input(args.input, model)
    y = model.predict(x, batch_size=args.batch_size, verbose=args.verbose)
    if args.out:
        print(write_output(args.out, y, model.output_names), file=sys.stderr)
    else:
        print(to_json(y, model.output_names))


def _summary(args):
    load(args.model).summary()


def _explain(args) -> None:
    """``kerasless explain MODEL [--format text|markdown|json] [--plot PNG] [--html HTML [--input NPY]]``."""
    from .explain import Explanation, explain

    if getattr(args, "input", None) and not getattr(args, "html", None):
        raise KeraslessError("explain: --input is used with --html (to trace the gates); for a trace alone use "
                             "`kerasless trace MODEL INPUT`")
    if getattr(args, "plot", None) or getattr(args, "html", None):
        from .plots import require_matplotlib

        require_matplotlib()  # fail before any work
    from .data_io import read_input

    model = load(args.model)
    x = read_input(args.input, model) if getattr(args, "input", None) else None  # refuse a bad file before any work
    fmt = getattr(args, "format", None)
    if fmt or not (getattr(args, "plot", None) or getattr(args, "html", None)):  # pictures alone print no text
        info = explain(model)
        print({"text": str, "markdown": Explanation.to_markdown, "json": Explanation.to_json}[fmt or "text"](info))
    if getattr(args, "plot", None):
        from .plots import plot_weights

        plot_weights(model, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    if getattr(args, "html", None):
        from .plots import html_report

        html_report(model, args.html, x)
        print(f"wrote {args.html}", file=sys.stderr)


def _trace(args) -> None:
    """``kerasless trace MODEL INPUT [--out NPZ] [--plot PNG]``: every gate and state at every step."""
    from .trace import trace

    if getattr(args, "plot", None):
        from .plots import require_matplotlib

        require_matplotlib()  # fail before any work
    from .data_io import read_input

    model = load(args.model)
    x = read_input(args.input, model)
    tr = trace(model, x)
    if getattr(args, "out", None):
        tr.save(args.out)
    if getattr(args, "plot", None):
        from .plots import char_view, plot_trace

        view = char_view(model, x)
        row = getattr(args, "row", "0")
        plot_trace(tr, args.plot, sample="all" if row == "all" else int(row), labels=view[1] if view else None)
    print(tr.describe())
    for path in (getattr(args, "out", None), getattr(args, "plot", None)):
        if path:
            print(f"wrote {path}", file=sys.stderr)


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


def read_input(path, model):
    from .data_io import read_input

    return read_input(path, model)


def _non_negative(kind):
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if v < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return v
    return parse


def _positive_int(text):
    v = _non_negative(int)(text)
    if v == 0:
        raise argparse.ArgumentTypeError("must be >= 1, got 0")
    return v


def _out(*suffixes):
    """An argparse type: an output file checked before any work (see data_io.check_out)."""
    def parse(text):
        from .data_io import check_out

        try:
            check_out(text, suffixes)
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text
    return parse


def _out_dir(text):
    from pathlib import Path

    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file; export writes a folder of files (give a new or existing "
                                         "folder)")
    return text


def _row(text):
    if text != "all" and not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a batch row number or 'all', got {text!r}")
    return text


def _target(text):
    if text not in EXPORT_TARGETS:
        raise argparse.ArgumentTypeError(
            f"unknown target {text!r}; the targets are {', '.join(EXPORT_TARGETS)}. For another platform (Kotlin, "
            "Rust, Go, C#, an MCU...) use --target c: C99 with no allocation, callable from any language with a "
            "C FFI")
    return text


MODEL = (("model",), {"help": "a .keras or legacy .h5 file"})
INPUT_HELP = ("input (batch, *input_shape): .npy, .npz (arrays named like the inputs, x, or one array), .json (nested "
              'list, {"instances": [...]}, or an object keyed by input name), .csv (one sample per row, flattened '
              "in C order; a header row allowed), or - for JSON on stdin")
# name -> (handler, help, [(flags, kwargs), ...])
COMMANDS = {
    "predict": (_predict, "run a model on an input like keras model.predict", [
        MODEL,
        (("input",), {"help": INPUT_HELP}),
        (("--out",), {"metavar": "FILE", "type": _out(".npy", ".npz", ".json", ".csv"),
                      "help": "write the output to .npy, .npz, .json (nested lists) or .csv (one "
                                                 "sample per row, flattened), by extension; default: print JSON"}),
        (("--batch-size",), {"type": _positive_int, "default": None,
                             "help": "rows per chunk; results do not depend on it (default: chunks of 1024)"}),
        (("--verbose",), {"type": int, "choices": [0, 1, 2], "default": 0,
                          "help": "Keras's meanings: 1 a progress bar on stderr, 2 one line when done"}),
    ]),
    "summary": (_summary, "print the layer table (name, class, output shape, params)", [
        MODEL,
    ]),
    "explain": (_explain, "say what every weight array and gate block means, with equations", [
        MODEL,
        (("--format",), {"choices": ["text", "markdown", "json"], "default": None,
                         "help": "print the explanation in this format (default: text, or nothing with --plot/--html)"}),
        (("--plot",), {"metavar": "PNG", "type": _out(".png"),
                       "help": "draw the weight map as heatmaps (needs kerasless[plot])"}),
        (("--html",), {"metavar": "HTML", "type": _out(".html", ".htm"),
                       "help": "write a self-contained HTML report (needs kerasless[plot])"}),
        (("--input",), {"metavar": "FILE", "help": "with --html: trace the gates on this input and show the "
                                                   "prediction (formats as for predict)"}),
    ]),
    "trace": (_trace, "record every gate activation and state at every timestep", [
        MODEL,
        (("input",), {"help": INPUT_HELP}),
        (("--out",), {"metavar": "NPZ", "type": _out(".npz"), "help": "write the trace here (.npz)"}),
        (("--plot",), {"metavar": "PNG", "type": _out(".png"),
                       "help": "draw gate activations over time (needs kerasless[plot])"}),
        (("--row",), {"type": _row, "default": "0", "metavar": "N|all",
                      "help": "with --plot: the batch row to draw, or all (the first 4)"}),
    ]),
    "export": (_export, "write standalone code that reproduces predict: " + ", ".join(EXPORT_TARGETS), [
        MODEL,
        (("--target",), {"required": True, "type": _target, "metavar": "TARGET",
                         "help": "; ".join(f"{k}: {d}" for k, (_, d) in EXPORT_TARGETS.items())}),
        (("--out",), {"required": True, "metavar": "DIR", "type": _out_dir, "help": "the folder to write"}),
        (("--name",), {"default": "model", "help": "base name of the generated files and symbols"}),
        (("--verify",), {"type": _non_negative(int), "default": 0, "metavar": "N",
                         "help": "run the generated code on N random inputs with the real toolchain and compare"}),
        (("--weights-file",), {"action": "store_true",
                               "help": "write weights to a binary file + JSON manifest instead of source literals "
                                       "(numpy always writes an .npz)"}),
        (("--package",), {"metavar": "PKG", "default": None,
                          "help": "java: the package (e.g. com.example.ml): declaration and folders"}),
        (("--input-shape",), {"metavar": "DIMS", "default": None,
                              "help": "per-sample input shape for models with None dims, e.g. 40,60"}),
    ]),
    "generate": (_generate, "generate text with a char-level model (default: the bundled Shakespeare LSTM)", [
        (("model",), {"nargs": "?", "help": "a char model (.keras/.h5); default: the bundled one"}),
        (("--prime",), {"help": "text to start from (default: a line of Hamlet)"}),
        (("--length",), {"type": _non_negative(int), "default": 400, "help": "characters to generate"}),
        (("--temperature",), {"type": _non_negative(float), "default": 0.5,
                              "help": "sampling temperature; 0 = greedy (always the most likely character)"}),
        (("--random-seed",), {"type": int, "default": None, "help": "seed for sampling (default: a fresh one)"}),
        (("--mode",), {"choices": ["window", "stream"], "default": "window",
                       "help": "window (the default, as the classic Keras script: re-run the model on the last maxlen "
                               "chars, zero-padded, from a fresh state, so its text equals Keras's); stream: carry "
                               "the LSTM state, one char per step, ~3x faster; the two give different text"}),
        (("--vocab",), {"metavar": "JSON", "help": "vocabulary file (default: inside the model or beside it)"}),
    ]),
    "serve": (_serve, "serve models over TF Serving's REST API (needs kerasless[serve])", SERVE_ARGUMENTS),
    "demo": (_demo, "run the bundled model and compare with the stored Keras output", []),
}


class _Help(argparse.HelpFormatter):
    """--help shows every default that is set (not None / False)."""

    def _get_help_string(self, action):
        text = action.help or ""
        unset = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if not unset and "default" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kerasless", description="Run trained Keras models without TensorFlow.")
    parser.add_argument("--version", action="version", version=f"kerasless {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (handler, help_text, arguments) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, formatter_class=_Help)
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
