// kerasless web target: the page script. index.html inlines it after the model module (predict, INPUT_SIZE,
// OUTPUT_SIZE, FIXED_BATCH, resetStates) and `const CONFIG = {...}` (name, shapes, example, vocab for char models).
/* global CONFIG, predict, resetStates, INPUT_SIZE, OUTPUT_SIZE, FIXED_BATCH */

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(window.location.search);

function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

// ---- character models -------------------------------------------------------------------------------------
// mulberry32 seeded with the 32-bit seed: uniform doubles in [0, 1) with 53 random bits.
function makeRng(seed) {
  let s = (Number(seed) >>> 0) || 0x9e3779b9;
  const next32 = () => { // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return () => (next32() * 2 ** 21 + (next32() >>> 11)) / 2 ** 53;
}

// Same rule as kerasless.text.sample: T = 0 -> argmax (first maximum); else p = exp(log(p) / T), normalised,
// then one draw (inverse CDF with the seeded RNG; numpy uses multinomial, so sampled text differs from Python's).
function sampleIndex(probs, temperature, rng) {
  let best = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i] > probs[best]) best = i;
  if (temperature === 0) return best;
  const p = new Float64Array(probs.length);
  let sum = 0;
  for (let i = 0; i < p.length; i++) { p[i] = Math.exp(Math.log(probs[i]) / temperature); sum += p[i]; }
  if (!(sum > 0) || !Number.isFinite(sum)) return best;
  let u = rng() * sum;
  for (let i = 0; i < p.length; i++) {
    u -= p[i];
    if (u < 0) return i;
  }
  return p.length - 1;
}

function encode(vocab, text) {
  const index = new Map(vocab.chars.map((c, i) => [c, i]));
  const ids = [], unknown = new Set();
  for (const ch of text) {
    if (index.has(ch)) ids.push(index.get(ch)); else unknown.add(ch);
  }
  if (unknown.size) {
    const hint = vocab.chars.some((c) => c !== c.toLowerCase()) ? "" : " (it has no uppercase letters: try lowercase)";
    throw new Error(`characters not in the model's vocabulary: ${JSON.stringify([...unknown].sort())}${hint}`);
  }
  return ids;
}

// kerasless.text window mode: the last maxlen ids, left-padded with zeros (one-hot rows or token ids).
function windowInput(vocab, ids) {
  const width = vocab.chars.length, maxlen = vocab.maxlen;
  const x = new Float32Array(INPUT_SIZE);
  const win = ids.slice(-maxlen), start = maxlen - win.length;
  win.forEach((id, k) => {
    if (vocab.input === "onehot") x[(start + k) * width + id] = 1; else x[start + k] = id;
  });
  return x;
}

// kerasless.text stream mode: one step per character (the prime's, then each sampled one's): O(1) per character.
function stepInput(vocab, id) {
  const x = new Float32Array(vocab.input === "onehot" ? vocab.chars.length : 1);
  if (id !== null) { if (vocab.input === "onehot") x[id] = 1; else x[0] = id; }
  return x;
}

function* streamChars(vocab, prime, length, temperature, seed) {
  const ids = encode(vocab, prime), rng = makeRng(seed), s = createStream(1);
  let probs = null;
  for (const id of ids) probs = s.step(stepInput(vocab, id));
  for (let n = 0; n < length; n++) {
    if (probs === null) probs = s.step(stepInput(vocab, null)); // empty prime: an all-zero first step
    const next = sampleIndex(probs, temperature, rng);
    yield vocab.chars[next];
    probs = s.step(stepInput(vocab, next));
  }
}

function* generateChars(vocab, prime, length, temperature, seed, mode = "window") {
  if (mode === "stream") { yield* streamChars(vocab, prime, length, temperature, seed); return; }
  const ids = encode(vocab, prime), rng = makeRng(seed);
  for (let n = 0; n < length; n++) {
    if (FIXED_BATCH !== null) resetStates();
    const next = sampleIndex(predict(windowInput(vocab, ids), 1), temperature, rng);
    ids.push(next);
    yield vocab.chars[next];
  }
}

function charPage(vocab) {
  let stop = false;
  const out = $("output");
  const readForm = () => ({
    prime: $("prime").value, temperature: Number($("temperature").value), length: Math.trunc(Number($("length").value)),
    seed: Math.trunc(Number($("seed").value)), mode: $("mode").value,
  });
  const start = (prime) => {
    out.textContent = "";
    const span = document.createElement("span");
    span.className = "gen";
    out.append(prime, span);
    return span;
  };
  const check = (f) => {
    if (!(f.temperature >= 0)) throw new Error("temperature must be >= 0");
    if (!(f.length >= 1)) throw new Error("length must be >= 1");
  };
  async function interactive() {
    const f = readForm();
    try {
      check(f);
      const span = start(f.prime);
      stop = false;
      $("generate").disabled = true;
      $("stop").disabled = false;
      document.body.dataset.state = "running";
      const t0 = performance.now();
      let n = 0;
      for (const ch of generateChars(vocab, f.prime, f.length, f.temperature, f.seed, f.mode)) {
        span.textContent += ch;
        n += 1;
        if (stop) break;
        if (n % 4 === 0) await new Promise((r) => setTimeout(r, 0)); // let the text stream in
      }
      setStatus(`${n} characters in ${((performance.now() - t0) / 1000).toFixed(2)} s (temperature ${f.temperature}, ` +
                `seed ${f.seed}, ${f.mode} mode)`);
    } catch (e) {
      setStatus(String(e.message || e), true);
    } finally {
      $("generate").disabled = false;
      $("stop").disabled = true;
      document.body.dataset.state = "done";
    }
  }
  $("generate").addEventListener("click", interactive);
  $("stop").addEventListener("click", () => { stop = true; });
  $("prime").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) interactive();
  });
  if (typeof CAN_STREAM === "undefined" || !CAN_STREAM) { // window mode only
    $("mode").value = "window";
    $("mode").disabled = true;
  }
  for (const key of ["prime", "temperature", "length", "seed", "mode"]) if (params.has(key)) $(key).value = params.get(key);
  if (params.get("auto") === "1") { // unattended: synchronous, finished before the load event
    const f = readForm();
    try {
      check(f);
      const span = start(f.prime);
      span.textContent = [...generateChars(vocab, f.prime, f.length, f.temperature, f.seed, f.mode)].join("");
      setStatus("done");
    } catch (e) {
      setStatus(String(e.message || e), true);
    }
    document.body.dataset.state = "done";
  } else {
    document.body.dataset.state = "ready";
  }
}

// ---- any other model: paste an input, see the output ------------------------------------------------------
function nest(flat, shape) {
  if (shape.length === 0) return flat[0];
  const step = shape.slice(1).reduce((a, b) => a * b, 1), out = [];
  for (let i = 0; i < shape[0]; i++) out.push(nest(flat.slice(i * step, (i + 1) * step), shape.slice(1)));
  return out;
}

function runTensor(text) {
  const values = JSON.parse(text);
  const flat = (Array.isArray(values) ? values : [values]).flat(Infinity).map(Number);
  if (flat.length === 0 || flat.length % INPUT_SIZE !== 0) {
    throw new Error(`expected a multiple of ${INPUT_SIZE} numbers (batch, ${CONFIG.inputShape.join(", ")}), got ${flat.length}`);
  }
  const batch = flat.length / INPUT_SIZE;
  if (FIXED_BATCH !== null) resetStates();
  const y = predict(Float32Array.from(flat), batch);
  const rounded = Array.from(y, (v) => (Number.isFinite(v) ? Number(v.toPrecision(9)) : String(v)));
  return JSON.stringify(nest(rounded, [batch, ...CONFIG.outputShape]));
}

function tensorPage() {
  const go = () => {
    try {
      $("output").textContent = runTensor($("input").value);
      setStatus("done");
    } catch (e) {
      $("output").textContent = "";
      setStatus(String(e.message || e), true);
    }
    document.body.dataset.state = "done";
  };
  $("run").addEventListener("click", go);
  $("example").addEventListener("click", () => {
    const rows = FIXED_BATCH || 1, example = [];
    for (let r = 0; r < rows; r++) example.push(...CONFIG.example);
    $("input").value = JSON.stringify(nest(example, [rows, ...CONFIG.inputShape]));
  });
  $("input").placeholder = `e.g. ${JSON.stringify(nest(CONFIG.example, [1, ...CONFIG.inputShape])).slice(0, 200)}`;
  if (params.has("input")) $("input").value = params.get("input");
  if (params.get("auto") === "1") go(); else document.body.dataset.state = "ready";
}

if (CONFIG.vocab) charPage(CONFIG.vocab); else tensorPage();
