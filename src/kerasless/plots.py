"""Pictures of weights and traces, and a self-contained HTML report. Needs the ``plot`` extra (matplotlib).

matplotlib is imported only when a picture is drawn (Agg canvas, no pyplot, no display), so ``import kerasless``
never loads it.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np

from .errors import KeraslessError
from .explain import explain, shape_text
from .layers import layout
from .layers.recurrent import RecurrentLayer

__all__ = ["MissingExtraError", "char_view", "html_report", "plot_trace", "plot_weights", "require_matplotlib"]


class MissingExtraError(KeraslessError, ImportError):
    """An optional dependency is not installed; the message names the pip extra that brings it."""


def require_matplotlib():
    """The matplotlib Figure class, or MissingExtraError naming the extra to install."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtraError(
            "drawing plots needs matplotlib, which is not installed: pip install 'kerasless[plot]' (from a clone: "
            "pip install '.[plot]'; in make demo's environment: .venv/bin/pip install -e '.[plot]')"
        ) from None
    return Figure


def _figure(width: float, height: float):
    fig = require_matplotlib()(figsize=(width, height), dpi=100)
    fig.subplots_adjust(left=1.0 / width, right=1 - 0.5 / width, bottom=0.5 / height, top=1 - 0.9 / height,
                        wspace=0.45, hspace=0.6)
    return fig


def _save(fig, path) -> None:
    fig.savefig(path, format="png", metadata={"Software": None})


def _png(fig) -> str:
    buf = io.BytesIO()
    _save(fig, buf)
    return base64.b64encode(buf.getvalue()).decode("ascii")


# -- weights --------------------------------------------------------------------------------------------------------
def _weight_rows(model):
    """[(title, [(panel title, stacked (rows, cols), [(y_start, y_stop, label)], raw values)], row labels, column
    labels)] per weighted layer. For a one-hot character model the input kernel's rows and a per-character Dense's
    columns are labelled with their characters (else None)."""
    rows = []
    view = char_view(model)
    chars = [_printable(c) for c in view[0].chars] if view and view[0].input == "onehot" else None

    def add(layer, title):
        if layer.parts():
            for prefix, sub in layer.parts():
                add(sub, f"{title} {prefix}" if prefix else title)
        elif isinstance(layer, RecurrentLayer):
            named = layer.named_weights()
            head = f"{title} ({layer.class_name}, {layer.units} units)"
            # Two rows: the kernel (often tall: one row per input feature), then recurrent kernel + bias.
            for syms, what in ((("W",), "kernel W"), (("U", "b", "br"), "recurrent kernel U, bias b")):
                panels = []
                for gate in layer.LAYOUT.gates:
                    parts = [(sym, named[f"{sym}_{gate.key}"]) for sym in syms if f"{sym}_{gate.key}" in named]
                    keys = ", ".join(f"{sym}_{gate.key}" for sym, _ in parts)
                    panels.append((f"{gate.label} {gate.math or gate.var}: {keys}", *_stack(parts)))
                labelled = what == "kernel W" and chars and panels and panels[0][1].shape[0] == len(chars)
                rows.append((f"{head}: {what}", panels, chars if labelled else None, None))
        elif layer.weights:
            named = layer.named_weights() or {w.split("/")[-1]: a for w, a in zip(layer.weight_names, layer.weights)}
            panel = (", ".join(named), *_stack(list(named.items())))
            # a Dense with one unit per character (the next-character softmax): columns are labelled
            out_chars = chars if chars and panel[1].shape[1] == len(chars) and panel[1].shape[0] > 1 else None
            rows.append((f"{title} ({layer.class_name})", [panel], None, out_chars))

    for layer in model.layers:
        add(layer, layer.name)
    return rows


def _stack(parts):
    """Stack arrays vertically; a bias (one row) is drawn several rows tall so it stays visible."""
    tall = sum(np.shape(a)[0] for _, a in parts if np.ndim(a) == 2)
    arrays, marks, y = [], [], 0
    for sym, a in parts:
        label = f"{sym} {shape_text(a.shape)}" if a.ndim == 2 else sym
        a = np.atleast_2d(a) if a.ndim == 2 else np.repeat(a[None], max(1, tall // 12), axis=0)
        arrays.append(a)
        marks.append((y, y + a.shape[0], label))
        y += a.shape[0]
    return np.concatenate(arrays, axis=0), marks, np.concatenate([np.ravel(a) for _, a in parts])


def plot_weights(model, path=None):
    """Draw every weight array as heatmaps: one panel per gate (kernel W, recurrent kernel U and bias b stacked).

    Args:
        model: a kerasless Model.
        path: where to write the PNG (None: return the Figure).
    Returns:
        the matplotlib Figure.
    Example:
        >>> plot_weights(model, "weights.png")
    """
    rows = _weight_rows(model)
    if not rows:
        raise KeraslessError("plot_weights: the model has no weights to draw")
    ncols = max(len(panels) for _, panels, *_ in rows)
    heights = [3.2 if labels is None else max(3.2, 0.16 * len(labels) + 1.2) for _, _, labels, _ in rows]
    fig = _figure(3.2 * ncols + 1, sum(heights) + 0.4)
    fig.suptitle(f"weights of {model.name!r} (blue < 0 < red; one panel per gate; colours clipped at the 99.5th "
                 "percentile of |w| in each row)")
    grid = fig.add_gridspec(len(rows), ncols, height_ratios=heights)
    for r, (title, panels, labels, columns) in enumerate(rows):
        lim = float(np.percentile(np.abs(np.concatenate([raw for *_, raw in panels])), 99.5)) or 1.0
        for c, (ptitle, a, marks, _) in enumerate(panels):
            wide = columns is not None and len(panels) == 1  # room for one label per column
            ax = fig.add_subplot(grid[r, 0:max(1, ncols // 2)] if wide else grid[r, c])
            im = ax.imshow(a, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
            ax.set_title((f"{title}\n" if c == 0 else "\n") + ptitle, fontsize=8, loc="left")
            for y0, _, _ in marks[1:]:
                ax.axhline(y0 - 0.5, color="black", linewidth=0.8)
            if labels is not None:  # one row per input character
                ax.set_yticks(range(len(labels)), labels, fontsize=7, fontfamily="monospace")
                ax.set_ylabel("input character", fontsize=7)
            else:
                ax.set_yticks([(y0 + y1 - 1) / 2 for y0, y1, _ in marks], [m[2] for m in marks], fontsize=7)
            if columns is not None:  # one column per output character
                ax.set_xticks(range(len(columns)), columns, fontsize=6, fontfamily="monospace")
                ax.set_xlabel("output character", fontsize=7)
            else:
                ax.set_xlabel("unit", fontsize=7)
                ax.tick_params(axis="x", labelsize=7)
                ax.xaxis.set_major_locator(_integer_ticks())
        fig.colorbar(im, ax=ax, shrink=0.8)
    if path is not None:
        _save(fig, path)
    return fig


# -- traces ---------------------------------------------------------------------------------------------------------
MAX_TRACE_ROWS = 4  # sample="all" draws at most this many batch rows


def plot_trace(tr, path=None, sample=0, labels=None):
    """Draw a trace: for each chosen batch row and recurrent layer, one wide units × time heatmap per gate and
    state, with a colour bar; the x axis names the input at each step (its character for a character model).

    Args:
        tr: a :class:`kerasless.trace.Trace`.
        path: where to write the PNG (None: return the Figure).
        sample: the batch row to draw, or ``"all"`` (the first MAX_TRACE_ROWS rows).
        labels: optional, per batch row, one label per input step (e.g. ``char_view(model, x)[1]``).
    Returns:
        the matplotlib Figure. Masked steps of gates (NaN) are drawn grey.
    Example:
        >>> plot_trace(kerasless.trace.trace(model, x), "gates.png", sample="all")
    """
    if not tr:
        raise KeraslessError("plot_trace: the model has no recurrent layer to trace")
    batch = next(iter(next(iter(tr.values())).arrays.values())).shape[0]
    if sample == "all":
        samples = list(range(min(batch, MAX_TRACE_ROWS)))
    elif isinstance(sample, (int, np.integer)) and 0 <= sample < batch:
        samples = [int(sample)]
    else:
        raise KeraslessError(f"plot_trace: sample should be a batch row 0..{batch - 1} or 'all', got {sample!r}")
    panels = [(b, key, lt, name, arr) for b in samples for key, lt in tr.items() for name, arr in lt.arrays.items()]
    steps = max(arr.shape[1] for *_, arr in panels)
    width = max(9.0, min(0.22 * steps + 2.5, 30.0))
    fig = _figure(width, 2.3 * len(panels) + 0.6)
    fig.subplots_adjust(left=1.0 / width, right=1 - 0.3 / width, hspace=0.9)
    more = f" (first {len(samples)} of {batch} rows)" if sample == "all" and batch > len(samples) else ""
    fig.suptitle(f"gates and states over time{more}: one panel per gate, units down, input steps across; "
                 "grey = masked step", fontsize=10)
    grid = fig.add_gridspec(len(panels), 1)
    words = {}
    for r, (b, key, lt, name, arr) in enumerate(panels):
        words.setdefault(lt.class_name, _trace_words(lt.class_name))
        a = np.ma.masked_invalid(arr[b].T)  # (units, time)
        gate_like = a.count() and a.min() >= 0 and a.max() <= 1
        lim = float(np.abs(a).max()) if a.count() else 1.0
        ax = fig.add_subplot(grid[r, 0])
        im = ax.imshow(a, aspect="auto", cmap=_cmap("viridis" if gate_like else "RdBu_r"), interpolation="nearest",
                       vmin=0 if gate_like else -lim, vmax=1 if gate_like else lim)
        row = labels[b] if labels is not None else None
        text = "" if row is None else " · input “" + "".join(_printable(c) for c in row if c) + "”"
        ax.set_title(f"row {b} · {key} ({lt.class_name}) · {name}: {words[lt.class_name].get(name, name)}"
                     + (text if name == next(iter(lt.arrays)) else ""), fontsize=9, loc="left")
        _step_axis(ax, lt, row)
        ax.set_ylabel("unit", fontsize=8)
        ax.yaxis.set_major_locator(_integer_ticks())
        ax.tick_params(labelsize=7)
        bar = fig.colorbar(im, ax=ax, shrink=0.9, pad=0.01)
        bar.set_label("0–1 (gate)" if gate_like else "value", fontsize=7)
        bar.ax.tick_params(labelsize=7)
    if path is not None:
        _save(fig, path)
    return fig


def _step_axis(ax, lt, row) -> None:
    """x ticks: the input step each time index processed, labelled with its character when known."""
    n = len(lt.steps)
    if row is None:
        ax.xaxis.set_major_locator(_integer_ticks())
        ax.set_xlabel("input step" + (" (processing order: last input step first)" if lt.go_backwards else ""),
                      fontsize=8)
        return
    every = max(1, -(-n // 120))
    idx = list(range(0, n, every))
    ax.set_xticks(idx, [_printable(row[int(lt.steps[k])]) if row[int(lt.steps[k])] else "·" for k in idx],
                  fontsize=8, fontfamily="monospace")
    ax.set_xlabel("input character at each step (· = padding)"
                  + (", processing order: last first" if lt.go_backwards else ""), fontsize=8)


def _trace_words(class_name) -> dict:
    cell = layout.CELLS.get(class_name)
    words = {g.var: g.label + (f" {g.math}" if g.math else "") for g in cell.gates} if cell else {}
    return {**words, "h": "hidden state (output)", "c": "cell state"}


def _printable(c: str) -> str:
    return {"\n": "⏎", " ": "␣", "\t": "⇥"}.get(c, c)


def char_view(model, x=None):
    """For a character model (one with a vocabulary): ``(vocab, rows)`` where ``rows`` gives, per batch row of
    ``x``, the character at each input step (None at padding), or None without ``x``. None for other models."""
    from .text import find_vocab

    try:
        vocab = find_vocab(model)
    except (KeraslessError, OSError):
        return None
    if x is None or isinstance(x, (list, dict)):
        return vocab, None
    a = np.asarray(x)
    n = len(vocab.chars)
    if vocab.input == "onehot" and a.ndim == 3 and a.shape[-1] == n:
        ids = np.where(a.sum(-1) > 0, a.argmax(-1), -1)
    elif vocab.input == "embedding" and a.ndim == 2:
        ids = np.where((a >= 0) & (a < n), a, -1).astype(int)
    else:
        return vocab, None
    return vocab, [[vocab.chars[i] if i >= 0 else None for i in r] for r in ids]


def _integer_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=6, integer=True)


def _cmap(name):
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad="#cccccc")


# -- HTML -----------------------------------------------------------------------------------------------------------
_CSS = """body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;
vertical-align:top;font-size:.9em}th{background:#f3f3f3}pre{background:#f6f8fa;padding:.8em;border-radius:4px;
overflow-x:auto}img{max-width:100%;border:1px solid #ddd}.muted{color:#666;font-size:.9em}code{font-size:.95em}"""


def _prediction_html(model, x, view, top: int = 5) -> list[str]:
    """The input (its text, for a character model) and the prediction for batch row 0."""
    esc = html.escape
    y = model.predict(x)
    out = ["<h2>Input and prediction <span class='muted'>(batch row 0)</span></h2>"]
    ys = y if isinstance(y, list) else [y]
    if view and view[1] is not None and ys[0].ndim == 2 and ys[0].shape[1] == len(view[0].chars):
        text = "".join(c for c in view[1][0] if c is not None)
        pad = len(view[1][0]) - len(text)
        probs = ys[0][0]
        best = np.argsort(-probs)[:top]
        out += [f"<p>Input text ({len(text)} characters{f', after {pad} zero (padding) steps' if pad else ''}):</p>",
                f"<pre>{esc(text)}</pre>",
                "<p>Most likely next characters:</p><table><tr><th>character</th><th>probability</th></tr>"
                + "".join(f"<tr><td><code>{esc(repr(view[0].chars[i]))}</code></td><td>{probs[i]:.4f}</td></tr>"
                          for i in best) + "</table>"]
        return out
    shapes = ", ".join(str(np.shape(a)) for a in (x if isinstance(x, list) else [x]))
    out.append(f"<p>Input shape {esc(shapes)}; output row 0:</p>")
    for name, a in zip(model.output_names, ys):
        out.append(f"<pre>{esc(name)}: {esc(np.array2string(a[0], precision=4, threshold=60))}</pre>")
    return out


def html_report(model, path=None, x=None) -> str:
    """One self-contained HTML page: weight map, equations, parameter counts, weight heatmaps and (given ``x``)
    gate traces. Images are embedded as base64 PNG; no network, no external CSS or JavaScript.

    Args:
        model: a kerasless Model.
        path: where to write the page (None: only return it).
        x: optional input; adds the input (as text for a character model), the prediction (the top next
            characters with their probabilities for a character model) and the gate trace (batch row 0).
    Returns:
        the HTML text.
    Example:
        >>> html_report(model, "report.html", x=np.load("x.npy"))
    """
    e = explain(model)
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>kerasless: {esc(e.model)}</title><style>{_CSS}</style></head><body>",
           f"<h1>What the weights of <code>{esc(e.model)}</code> mean</h1>",
           (f'<p class="muted">Keras {esc(e.keras_version)} · {esc(e.source)} · {e.params:,} parameters in '
            f"{sum(len(i.weights) for i in e.layers)} arrays, in <code>model.get_weights()</code> order.</p>")]
    for info in e.layers:
        if not info.weights and info.class_name == "InputLayer":
            continue
        out.append(f"<h2>{esc(info.name)} <span class='muted'>{esc(info.class_name)}"
                   f"{': ' + esc(info.summary) if info.summary else ''}</span></h2>")
        if info.weights:
            out.append("<table><tr><th>index</th><th>weight</th><th>shape</th><th>columns (last axis)</th></tr>")
            for w in info.weights:
                blocks = "<br>".join(
                    (f"row {b.row}: " if b.row is not None else "")
                    + f"{b.start}–{b.stop - 1}: {esc(b.label)} <code>{esc(b.symbol)}</code>" for b in w.blocks or [])
                out.append(f"<tr><td>{w.index}</td><td>{esc(w.part or '')} <code>{esc(w.name)}</code></td>"
                           f"<td><code>{esc(shape_text(w.shape))}</code></td><td>{blocks or esc(w.label)}</td></tr>")
            out.append("</table>")
        if info.equations:
            lines = info.equations + (["", "where:", *info.activations] if info.activations else [])
            out.append("<pre>" + esc("\n".join(lines)) + "</pre>")
        notes = info.notes + ([f"params: {info.param_formula}"] if info.param_formula else [])
        if notes:
            out.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    out += ["<h2>Weight heatmaps</h2>",
            f'<img alt="weight heatmaps" src="data:image/png;base64,{_png(plot_weights(model))}">']
    if x is not None:
        from .trace import trace

        view = char_view(model, x)
        rows = view[1] if view else None
        out[5:5] = _prediction_html(model, x, view)  # first, under the title: what a reader came for
        tr = trace(model, x)
        out.append("<h2>Gate trace <span class='muted'>(batch row 0)</span></h2>")
        if tr:
            out += [f"<pre>{esc(tr.describe())}</pre>",
                    f'<img alt="gate trace" src="data:image/png;base64,{_png(plot_trace(tr, labels=rows))}">']
        else:
            out.append("<p>No recurrent layer to trace.</p>")
    out.append("<p class='muted'>Written by kerasless explain.</p></body></html>")
    text = "\n".join(out)
    if path is not None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    return text
