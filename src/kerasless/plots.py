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
from .explain import _shape, explain
from .layers import layout
from .layers.recurrent import RecurrentLayer

__all__ = ["MissingExtraError", "html_report", "plot_trace", "plot_weights", "require_matplotlib"]


class MissingExtraError(KeraslessError, ImportError):
    """An optional dependency is not installed; the message names the pip extra that brings it."""


def require_matplotlib():
    """The matplotlib Figure class, or MissingExtraError naming the extra to install."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtraError(
            "drawing plots needs matplotlib, which is not installed: pip install 'kerasless[plot]'"
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
    """[(title, [(panel title, stacked (rows, cols), [(y_start, y_stop, label)], raw values)])] per weighted layer."""
    rows = []

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
                rows.append((f"{head}: {what}", panels))
        elif layer.weights:
            named = layer.named_weights() or {w.split("/")[-1]: a for w, a in zip(layer.weight_names, layer.weights)}
            rows.append((f"{title} ({layer.class_name})", [(", ".join(named), *_stack(list(named.items())))]))

    for layer in model.layers:
        add(layer, layer.name)
    return rows


def _stack(parts):
    """Stack arrays vertically; a bias (one row) is drawn several rows tall so it stays visible."""
    tall = sum(np.shape(a)[0] for _, a in parts if np.ndim(a) == 2)
    arrays, marks, y = [], [], 0
    for sym, a in parts:
        label = f"{sym} {_shape(a.shape)}" if a.ndim == 2 else sym
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
    ncols = max(len(panels) for _, panels in rows)
    fig = _figure(3.2 * ncols + 1, 3.2 * len(rows) + 0.4)
    fig.suptitle(f"weights of {model.name!r} (blue < 0 < red; one panel per gate; colours clipped at the 99.5th "
                 "percentile of |w| in each row)")
    grid = fig.add_gridspec(len(rows), ncols)
    for r, (title, panels) in enumerate(rows):
        lim = float(np.percentile(np.abs(np.concatenate([raw for *_, raw in panels])), 99.5)) or 1.0
        for c, (ptitle, a, marks, _) in enumerate(panels):
            ax = fig.add_subplot(grid[r, c])
            im = ax.imshow(a, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
            ax.set_title((f"{title}\n" if c == 0 else "\n") + ptitle, fontsize=8, loc="left")
            for y0, _, _ in marks[1:]:
                ax.axhline(y0 - 0.5, color="black", linewidth=0.8)
            ax.set_yticks([(y0 + y1 - 1) / 2 for y0, y1, _ in marks], [m[2] for m in marks], fontsize=7)
            ax.set_xlabel("unit", fontsize=7)
            ax.tick_params(axis="x", labelsize=7)
            ax.xaxis.set_major_locator(_integer_ticks())
        fig.colorbar(im, ax=ax, shrink=0.8)
    if path is not None:
        _save(fig, path)
    return fig


# -- traces ---------------------------------------------------------------------------------------------------------
def plot_trace(tr, path=None, sample: int = 0):
    """Draw a trace: per recurrent layer, one units × time heatmap per gate and state, for one batch row.

    Args:
        tr: a :class:`kerasless.trace.Trace`.
        path: where to write the PNG (None: return the Figure).
        sample: the batch row to draw.
    Returns:
        the matplotlib Figure. Masked steps of gates (NaN) are drawn grey.
    Example:
        >>> plot_trace(kerasless.trace.trace(model, x), "gates.png")
    """
    if not tr:
        raise KeraslessError("plot_trace: the model has no recurrent layer to trace")
    ncols = max(len(lt.arrays) for lt in tr.values())
    fig = _figure(2.8 * ncols + 1, 2.8 * len(tr) + 0.4)
    fig.suptitle(f"gates and states over time (batch row {sample}); grey = masked step")
    grid = fig.add_gridspec(len(tr), ncols)
    for r, (key, lt) in enumerate(tr.items()):
        words = _trace_words(lt.class_name)
        for c, (name, arr) in enumerate(lt.arrays.items()):
            a = np.ma.masked_invalid(arr[sample].T)  # (units, time)
            gate_like = a.count() and a.min() >= 0 and a.max() <= 1
            lim = float(np.abs(a).max()) if a.count() else 1.0
            cmap = _cmap("viridis" if gate_like else "RdBu_r")
            ax = fig.add_subplot(grid[r, c])
            im = ax.imshow(a, aspect="auto", cmap=cmap, interpolation="nearest",
                           vmin=0 if gate_like else -lim, vmax=1 if gate_like else lim)
            ax.set_title((f"{key} ({lt.class_name})\n" if c == 0 else "\n") + f"{name}: {words.get(name, name)}",
                         fontsize=8, loc="left")
            ax.xaxis.set_major_locator(_integer_ticks())
            ax.yaxis.set_major_locator(_integer_ticks())
            ax.set_xlabel("time index" + (" (last input step first)" if lt.go_backwards else ""), fontsize=7)
            ax.set_ylabel("unit", fontsize=7)
            ax.tick_params(labelsize=7)
            fig.colorbar(im, ax=ax, shrink=0.8)
    if path is not None:
        _save(fig, path)
    return fig


def _trace_words(class_name) -> dict:
    cell = layout.CELLS.get(class_name)
    words = {g.var: g.label + (f" {g.math}" if g.math else "") for g in cell.gates} if cell else {}
    return {**words, "h": "hidden state (output)", "c": "cell state"}


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


def html_report(model, path=None, x=None) -> str:
    """One self-contained HTML page: weight map, equations, parameter counts, weight heatmaps and (given ``x``)
    gate traces. Images are embedded as base64 PNG; no network, no external CSS or JavaScript.

    Args:
        model: a kerasless Model.
        path: where to write the page (None: only return it).
        x: optional input; adds the trace of every recurrent layer on it (batch row 0).
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
                           f"<td><code>{esc(_shape(w.shape))}</code></td><td>{blocks or esc(w.label)}</td></tr>")
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

        tr = trace(model, x)
        out.append("<h2>Gate trace</h2>")
        if tr:
            out += [f"<pre>{esc(tr.describe())}</pre>",
                    f'<img alt="gate trace" src="data:image/png;base64,{_png(plot_trace(tr))}">']
        else:
            out.append("<p>No recurrent layer to trace.</p>")
    out.append("<p class='muted'>Written by kerasless explain.</p></body></html>")
    text = "\n".join(out)
    if path is not None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    return text
