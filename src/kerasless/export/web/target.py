"""Web target: ``index.html`` (self-contained: the model module, weights and page script are inlined, so it works
from ``file://`` with no network) + ``<name>.js``/``.d.ts``/``package.json`` (the js target's module, for reuse).

Character models (``kerasless.text.find_vocab`` finds a vocabulary whose size matches the model's output) get a
type-and-continue text box: prime, temperature, length, seed, mode, Generate; characters stream in. Mode stream
(the default when the model streams: one step per character through ``createStream``, O(1) per character, like
``kerasless generate --mode stream``) or window (the last ``maxlen`` characters, left-padded with zeros, through
``predict`` per character, like ``kerasless generate``: the classic Keras script).
Greedy (temperature 0) output equals kerasless's; sampling uses a seeded mulberry32 RNG in JS and is NOT
bit-identical to Python's ``numpy.random.default_rng().multinomial``. Other models get a box to paste an input
(a JSON array, (batch, *input shape) or flat) and show the output as JSON.

Query parameters run the page unattended: ``?prime=the%20&length=40&temperature=0&seed=1&mode=window&auto=1`` (char
models)
or ``?input=[...]&auto=1``; the result is in ``#output`` and ``<body data-state="done">`` when finished.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from ..common import check_identifier
from ..js import target as js_target
from ..plan import ExportError, Plan

NAME = "web"
HERE = Path(__file__).parent
PAGE_JS = HERE / "page.js"


def char_vocab(plan: Plan):
    """The model's Vocab when it is a character model (vocabulary found, sizes fit), else None."""
    vocab = plan.vocab
    if vocab is None:
        return None
    n = len(vocab.chars)
    want_in = (vocab.maxlen, n) if vocab.input == "onehot" else (vocab.maxlen,)
    if tuple(plan.output_shape) != (n,) or tuple(plan.input_shape) != want_in:
        return None
    return vocab


def _script_safe(text: str) -> str:
    """Inline-script-safe: no '</script' or '<!--' can end or confuse the script element."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def page(plan: Plan, name: str, vocab=None) -> str:
    module = js_target.module_source(plan, name, weights_file=False)
    config = {"name": name, "model": plan.name, "inputShape": list(plan.input_shape),
              "outputShape": list(plan.output_shape), "fixedBatch": plan.fixed_batch,
              "example": [float(v) for v in plan.test_x[0].ravel()]}
    if vocab is not None:
        config["vocab"] = {"chars": list(vocab.chars), "maxlen": vocab.maxlen, "input": vocab.input}
    config_js = json.dumps(config, ensure_ascii=True).replace("<", "\\u003c")
    title = html.escape(f"{plan.name} — kerasless web export")
    char = vocab is not None
    shape = ", ".join(map(str, plan.input_shape))
    body = CHAR_BODY if char else TENSOR_BODY.format(shape=html.escape(shape),
                                                     out=html.escape(", ".join(map(str, plan.output_shape))))
    return PAGE.format(title=title, heading=html.escape(plan.name), body=body,
                       script=_script_safe(module + "\n// ---- page ----\nconst CONFIG = " + config_js + ";\n"
                                           + PAGE_JS.read_text(encoding="utf8")))


def write(plan: Plan, out_dir, name: str = "model", weights_file: bool = False) -> list[Path]:
    """Write ``index.html`` (everything inlined) plus the js target's files for ``name``."""
    check_identifier(name)
    if weights_file:
        raise ExportError("target 'web' inlines the weights so the page works from file:// with no network; "
                          "--weights-file is not supported (use target 'js' for a separate weights file)")
    out_dir = Path(out_dir)
    files = js_target.write(plan, out_dir, name, False)
    index = out_dir / "index.html"
    index.write_text(page(plan, name, char_vocab(plan)), encoding="utf8")
    (out_dir / "README.md").write_text(
        f"# {name}: Keras model `{plan.name}` as a web page (kerasless target web)\n\nOpen `index.html` in a browser "
        "(works from `file://`: everything is inlined, a CSP forbids network access). It runs the same code as "
        f"`{name}.js` (the js target's module, also written here; see its API in `{name}.d.ts`).\n", encoding="utf8")
    return [index, *files]


def run(plan: Plan, out_dir, name: str, batches: list, weights_file=False) -> tuple[list, float]:
    """Run the page's model module (the same code as the js target's ``<name>.js``) in node."""
    if weights_file:
        raise ExportError("target 'web': --weights-file is not supported")
    return js_target.run(plan, out_dir, name, batches, False)


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>
  body {{ font: 15px/1.45 system-ui, sans-serif; max-width: 860px; margin: 2em auto; padding: 0 1em; color: #222; }}
  h1 {{ font-size: 1.35em; margin-bottom: .2em; }}
  .sub {{ color: #666; margin-top: 0; }}
  textarea {{ width: 100%; box-sizing: border-box; font: 14px/1.4 ui-monospace, monospace; }}
  .row {{ display: flex; gap: 1em; align-items: center; flex-wrap: wrap; margin: .6em 0; }}
  label {{ font-size: .9em; }}
  input[type=number] {{ width: 6em; }}
  button {{ padding: .35em 1em; font-size: 1em; }}
  #output {{ white-space: pre-wrap; background: #f6f6f3; border: 1px solid #ddd; padding: .8em; min-height: 6em;
            font: 14px/1.45 ui-monospace, monospace; }}
  #output .gen {{ color: #0b5cad; }}
  #status {{ color: #666; font-size: .9em; }}
  #status.error {{ color: #b00020; }}
  .note {{ color: #777; font-size: .85em; }}
</style>
</head>
<body data-state="loading">
<h1>{heading}</h1>
<p class="sub">Runs entirely in this page: kerasless-exported JavaScript, no network, no dependencies.</p>
{body}
<p id="status"></p>
<script type="module">
{script}
</script>
</body>
</html>
"""

CHAR_BODY = """<label for="prime">Prime text (type, then Generate to continue it)</label>
<textarea id="prime" rows="3" spellcheck="false">the </textarea>
<div class="row">
  <label>Temperature <input id="temperature" type="number" min="0" step="0.1" value="0.5"></label>
  <label>Length <input id="length" type="number" min="1" max="100000" value="400"></label>
  <label>Seed <input id="seed" type="number" value="1"></label>
  <label>Mode <select id="mode"><option value="stream">stream (one step per character)</option>
    <option value="window">window (the last maxlen characters each time)</option></select></label>
  <button id="generate">Generate</button>
  <button id="stop" disabled>Stop</button>
</div>
<div id="output"></div>
<p class="note">Temperature 0 is greedy and matches <code>kerasless generate --temperature 0 --mode MODE</code>
exactly (stream: O(1) work per character; window: the classic Keras script's input, maxlen steps per character).
Sampling (temperature &gt; 0) uses a seeded JavaScript RNG: reproducible here, but not bit-identical to
Python's <code>numpy.random.default_rng</code> sampling.</p>"""

TENSOR_BODY = """<label for="input">Input: a JSON array of shape (batch, {shape}) or a flat list of numbers</label>
<textarea id="input" rows="8" spellcheck="false"></textarea>
<div class="row">
  <button id="run">Run</button>
  <button id="example">Example input</button>
  <span class="note">Output shape (batch, {out})</span>
</div>
<div id="output"></div>"""
