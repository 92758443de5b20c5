// kerasless js target: verification driver. `node driver.mjs jobs.json` runs every job in this one process:
//   {"module": "/abs/model.js", "input": "in.bin", "output": "out.bin", "weights": "/abs/model.weights.bin"?,
//    "stream": false?}   ("weights": "default" calls load() with no argument: the file beside the module)
// in.bin:  int32 n_in, n_out, count; per batch int32 rows, mode, then rows * n_in float32 (little-endian).
// out.bin: per batch int32 status (0, else the byte length of an error message that follows) + rows * n_out
//          float32; then float32 selfTest(). A stream job steps its single batch one timestep at a time through
//          createStream(rows) and writes (rows, steps, stream.outputSize) as its batch.
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

function i32(n) {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n, 0);
  return b;
}

function f32(arr) {
  const a = Float32Array.from(arr);
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

async function runJob(job) {
  const mod = await import(pathToFileURL(job.module).href);
  if (job.weights === "default") await mod.load(); // the .weights.bin beside the module (file: URL)
  else if (job.weights) await mod.load(job.weights);
  const blob = readFileSync(job.input);
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const nIn = view.getInt32(0, true), nOut = view.getInt32(4, true), count = view.getInt32(8, true);
  let pos = 12;
  const out = [];
  mod.resetStates();
  for (let k = 0; k < count; k++) {
    const rows = view.getInt32(pos, true);
    pos += 8;
    const x = new Float32Array(rows * nIn);
    for (let i = 0; i < x.length; i++) x[i] = view.getFloat32(pos + 4 * i, true);
    pos += 4 * x.length;
    try {
      let y;
      if (job.stream) {
        const steps = mod.INPUT_SHAPE[0], step = nIn / steps;
        const s = mod.createStream(rows), no = s.outputSize;
        y = new Float32Array(rows * steps * no);
        const xt = new Float32Array(rows * step);
        for (let t = 0; t < steps; t++) {
          for (let r = 0; r < rows; r++) xt.set(x.subarray(r * nIn + t * step, r * nIn + (t + 1) * step), r * step);
          const yt = s.step(xt);
          for (let r = 0; r < rows; r++) y.set(yt.subarray(r * no, (r + 1) * no), (r * steps + t) * no);
        }
      } else {
        y = mod.predict(x, rows);
      }
      out.push(i32(0), f32(y));
    } catch (e) {
      const msg = Buffer.from(String(e && e.stack ? e.stack : e), "utf8");
      out.push(i32(Math.max(1, msg.length)), msg);
      break;
    }
  }
  out.push(f32([job.stream ? 0 : mod.selfTest()]));
  writeFileSync(job.output, Buffer.concat(out));
}

const jobs = JSON.parse(readFileSync(process.argv[2], "utf8"));
for (const job of jobs) await runJob(job);
