"""The generated tables of docs/weight-layouts.md, all read from ``layers/layout.py``.

Refresh the doc with ``python -m kerasless.layout_docs`` (tests/test_explain.py fails when it is stale).
"""

from __future__ import annotations

import re
import sys

from .explain import FORMULAS, _gate_words
from .layers import layout

__all__ = ["layout_tables_markdown", "write_docs"]


def layout_tables_markdown() -> dict[str, str]:
    """The generated sections of docs/weight-layouts.md, by marker name (all read from ``layers/layout.py``)."""
    sections = {}
    for cls, cell in layout.CELLS.items():
        cols = [f"columns {_u(i)} … {_u(i + 1)} - 1" for i in range(cell.n_gates)]
        rows = ["| array | shape | " + " | ".join(cols) + " |",
                "|---|---|" + "---|" * cell.n_gates]
        for arr in layout.RECURRENT_ARRAYS:
            shape = arr.shape.replace("n*", f"{cell.n_gates}*" if cell.n_gates > 1 else "")
            rows.append(f"| `{arr.name}` | `{shape}` | " + " | ".join(
                f"{_gate_words(g)} (`{arr.symbol}_{g.key}`)" for g in cell.gates) + " |")
        if cls == "GRU":
            for r, (prefix, words) in enumerate(layout.GRU_BIAS_ROWS):
                rows.append(f"| `bias[{r}]` (reset_after=True) | `(2, 3*units)` row {r}: {words} | " + " | ".join(
                    f"`{prefix}_{g.key}`" for g in cell.gates) + " |")
        eq = [f"**{v}**:\n\n```text\n" + "\n".join(lines) + "\n```" for v, lines in cell.equations.items()]
        sections[cls] = "\n".join(rows) + "\n\nEquations (`{a}` = activation, `{ra}` = recurrent_activation, " \
                                          "`[ + b]` only when use_bias):\n\n" + "\n\n".join(eq)
    for name, arrays, eqs in (("Dense", layout.DENSE_ARRAYS, layout.DENSE_EQUATIONS),
                              ("Embedding", layout.EMBEDDING_ARRAYS, layout.EMBEDDING_EQUATIONS)):
        rows = ["| array | shape | meaning |", "|---|---|---|"]
        rows += [f"| `{a.name}` (`{a.symbol}`) | `{a.shape}` | {a.label} |" for a in arrays]
        sections[name] = "\n".join(rows) + "\n\n```text\n" + "\n".join(eqs) + "\n```"
    rows = ["| layout | cell | gate blocks, in stored order | stored arrays | to get the Keras 3 arrays |",
            "|---|---|---|---|---|"]
    keras = [layout.ForeignLayout(f"Keras 2 / 3 {cls}", cls, tuple(g.key for g in cell.gates),
                                  "kernel, recurrent_kernel, bias", "(these are the Keras 3 arrays)")
             for cls, cell in layout.CELLS.items()]
    for f in keras + list(layout.FOREIGN):
        gates = {g.key: g for g in layout.CELLS[f.cell].gates}
        order = " \\| ".join(f"{gates[k].label} ({k})" for k in f.order)
        rows.append(f"| {f.source} | {f.cell} | {order} | {f.arrays} | {f.to_keras} |")
    sections["foreign"] = "\n".join(rows)
    sections["hard_sigmoid"] = "\n".join(
        ["| file written by | kerasless activation name | formula |", "|---|---|---|",
         f"| Keras 3 | `hard_sigmoid` | `{FORMULAS['hard_sigmoid'].split('   ')[0]}` |",
         (f"| Keras 1, Keras 2, tf.keras / tf_keras | `hard_sigmoid_k2` | "
          f"`{FORMULAS['hard_sigmoid_k2'].split('   ')[0]}` |")])
    return sections


def _u(i: int) -> str:
    return "0" if i == 0 else "u" if i == 1 else f"{i}u"


def write_docs(path="docs/weight-layouts.md", check: bool = False) -> bool:
    """Refill the ``<!-- generated:NAME -->`` ... ``<!-- /generated -->`` sections of ``path`` from the code.

    Returns True when the file already matched; with ``check`` it is not rewritten.
    """
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    sections = layout_tables_markdown()

    def fill(m):
        return f"{m.group(1)}\n{sections[m.group(2)]}\n<!-- /generated -->"

    new = re.sub(r"(<!-- generated:(\w+) -->)\n.*?<!-- /generated -->", fill, text, flags=re.DOTALL)
    if not check and new != text:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(new)
    return new == text


if __name__ == "__main__":  # python -m kerasless.layout_docs [docs/weight-layouts.md] [--check]
    target = next((a for a in sys.argv[1:] if not a.startswith("-")), "docs/weight-layouts.md")
    fresh = write_docs(target, check="--check" in sys.argv)
    print(f"{target}: {'up to date' if fresh else 'stale' if '--check' in sys.argv else 'rewritten'}")
    sys.exit(0 if fresh or "--check" not in sys.argv else 1)
