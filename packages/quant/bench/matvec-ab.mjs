// Matrix × vector (the decode step) of a previous build of @zero-llm/tensor against this one,
// in one process: each build gets its own wasm backend and its own copies of the same random
// weights, and the two race in interleaved samples (tools/bench-helpers/race.mjs), so the
// ratio new / old is a same-run figure however busy the shared machine is. Each contestant
// cycles through ≥ 96 MiB of copies so that every call reads its matrix from DRAM.
//
// Keep a copy of the old build first, then rebuild and run:
//   cp -r packages/tensor/dist /tmp/tensor-old   # before changing assembly/
//   node bench/matvec-ab.mjs --old /tmp/tensor-old/index.js [--types f32,q4_k] [--threads 1]
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import * as current from "@zero-llm/tensor";
import { bestMsPerCall } from "../../../tools/bench-helpers/race.mjs";

const { values } = parseArgs({
  options: {
    old: { type: "string" },
    types: { type: "string", default: "f32,q8_0,q4_0,q4_1,q4_k" },
    threads: { type: "string", default: "1" },
    budget: { type: "string", default: "600" },
    shapes: { type: "string", default: "768x768,2048x768,768x2048,32000x768,768x288,288x768,32000x288" },
  },
});
if (!values.old) throw new Error("matvec-ab: --old <path to a previous build's dist/index.js> is required");
const previous = await import(pathToFileURL(values.old).href);
const threads = Number(values.threads), budgetMs = Number(values.budget);
const STREAM_BYTES = 96 << 20;
const { QUANT_TYPES, quantRowBytes, f32ToF16 } = current;

let seed = 1;
const next = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);

/** Random valid blocks of `type` (every code, scales of either sign): speed does not depend on values. */
function randomBlocks(byteLength, type) {
  const bytes = new Uint8Array(byteLength);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (next() * 256) | 0;
  const { blockBytes } = QUANT_TYPES[type];
  const halves = type === "q4_1" || type === "q4_k" ? 2 : 1;
  for (let b = 0; b < bytes.length; b += blockBytes) {
    for (let h = 0; h < halves; h++) {
      const v = f32ToF16((next() - 0.5) * 0.02);
      bytes[b + 2 * h] = v & 0xff;
      bytes[b + 2 * h + 1] = v >> 8;
    }
  }
  return bytes;
}

/**
 * Both builds' matvec on [rows, cols] weights of `type`: copies of `source` cycled per call. The
 * copies are written alternately, one for each build, because where a buffer lands matters on
 * this machine (a VM: the same kernel reads freshly faulted pages up to 1.4× faster or slower
 * from one process to the next), and alternating spreads that over both contestants alike.
 */
function contestants(backends, type, rows, cols, source, x) {
  const copies = Math.max(1, Math.ceil(STREAM_BYTES / source.byteLength));
  const sides = backends.map((backend) => {
    const xs = backend.allocF32(cols);
    xs.set(x);
    return { backend, xs, y: backend.allocF32(rows), calls: [], owned: [] };
  });
  for (let c = 0; c < copies; c++) {
    for (const side of sides) {
      const { backend, xs, y } = side;
      if (type === "f32") {
        const w = backend.allocF32(rows * cols);
        side.owned.push(w);
        w.set(new Float32Array(source.buffer, source.byteOffset, rows * cols));
        side.calls.push(() => backend.matvec(y, w, xs, rows, cols));
      } else {
        const w = backend.allocBytes(source.byteLength);
        side.owned.push(w);
        w.set(source);
        side.calls.push(() => backend.matmulQuant(y, xs, w, type, 1, cols, rows));
      }
    }
  }
  return sides.map(({ backend, calls, xs, y, owned }) => {
    let i = 0;
    return { run: () => calls[i++ % copies](), y, free: () => [xs, y, ...owned].forEach((array) => backend.free(array)) };
  });
}

const oldBackend = await previous.createWasmBackend({ threads });
const newBackend = await current.createWasmBackend({ threads });
console.log(`old backend: ${oldBackend.relaxedSimd ? "relaxed" : "plain"} SIMD, ${oldBackend.threads ?? "?"} thread(s)`);
console.log(`matvec, old build (${values.old}) vs this one, ${threads} thread(s), ${newBackend.relaxedSimd ? "relaxed SIMD" : "plain SIMD"}: µs per call, new / old speed`);
const types = values.types.split(",");
console.log(`| shape | ${types.join(" | ")} |`);
console.log(`|---|${types.map(() => "---:").join("|")}|`);
for (const shape of values.shapes.split(",")) {
  const [rows, cols] = shape.split("x").map(Number);
  const x = Float32Array.from({ length: cols }, () => next() - 0.5);
  const cells = [];
  for (const type of types) {
    if (type !== "f32" && cols % QUANT_TYPES[type].blockSize !== 0) {
      cells.push("—");
      continue;
    }
    const source = type === "f32"
      ? new Uint8Array(Float32Array.from({ length: rows * cols }, () => (next() - 0.5) * 0.1).buffer)
      : randomBlocks(rows * quantRowBytes(type, cols), type);
    // twice, the copies written old-first then new-first: whichever build's copy lands first in
    // each pair was measured up to 2× slower (same code both sides), so only both orders together
    // say which build is faster; the figures are geometric means of the two races
    const times = { old: [], new: [] };
    let same = true;
    for (const order of [[oldBackend, newBackend], [newBackend, oldBackend]]) {
      const sides = contestants(order, type, rows, cols, source, x);
      const [a, b] = order[0] === oldBackend ? sides : sides.reverse();
      const best = bestMsPerCall({ old: a.run, new: b.run }, budgetMs);
      times.old.push(best.old);
      times.new.push(best.new);
      // the same weights and input: the outputs agree bit for bit unless the build changed numerics
      same &&= a.y.every((v, i) => Object.is(v, b.y[i]));
      a.free();
      b.free();
    }
    const geo = (xs) => Math.sqrt(xs[0] * xs[1]) * 1000;
    cells.push(`${geo(times.old).toFixed(0)} → ${geo(times.new).toFixed(0)} µs, **${(geo(times.old) / geo(times.new)).toFixed(2)}×**${same ? "" : " (outputs differ!)"}`);
  }
  console.log(`| ${rows}×${cols} | ${cells.join(" | ")} |`);
}
