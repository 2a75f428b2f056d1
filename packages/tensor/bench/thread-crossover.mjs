// Where splitting a job across the thread pool starts to pay: linear (out[r] = W·x[r]) of
// rows × k → n, and attention of queries × keys, on the calling thread alone (1 thread) against
// split over 2 threads
// (parallelMinMacs: 0, every job split), per shape, the two taking turns call by call in the same
// process. Two ways of calling:
// - back to back: the worker is still polling when the next job comes (a decode step's products
//   follow one another closely);
// - after a gap: 40 µs of the caller's own work between calls, longer than the worker's idle
//   polling, so each job first wakes a sleeping worker (the first product of a step, after
//   sampling and HTTP).
// Per shape: the fastest call of each (the one that found both cores free: what the split
// delivers on an idle machine) and 2 threads ÷ 1 thread for the fastest and for the median call
// (the median: under the machine's load at the time; below 1, the split pays). The backend's
// default WasmBackendOptions.parallelMinMacs is chosen from the fastest calls.
// Run after a build: node bench/thread-crossover.mjs [--reps 400]
import os from "node:os";
import { parseArgs } from "node:util";
import { createWasmBackend } from "../dist/index.js";

const { values } = parseArgs({ options: { reps: { type: "string", default: "400" } } });
const reps = Number(values.reps);
const one = await createWasmBackend({ threads: 1 });
const two = await createWasmBackend({ threads: 2, parallelMinMacs: 0 });

const busyWait = (us) => {
  const end = performance.now() + us / 1000;
  while (performance.now() < end);
};
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const fastest = (xs) => Math.min(...xs);

function operands(be, rows, k, n) {
  const w = be.allocF32(n * k), x = be.allocF32(rows * k), out = be.allocF32(rows * n);
  for (let i = 0; i < w.length; i++) w[i] = ((i * 7919) % 255) / 255 - 0.5;
  for (let i = 0; i < x.length; i++) x[i] = ((i * 104729) % 253) / 253 - 0.5;
  return () => be.linear(out, x, w, rows, k, n);
}

/** µs per call of a and b, interleaved call by call: [fastest a, fastest b, median a, median b]. */
function race(a, b, gapUs) {
  const ta = [], tb = [];
  for (let i = 0; i < 30; i++) { a(); b(); }
  for (let i = 0; i < reps; i++) {
    for (const [fn, times] of i % 2 ? [[a, ta], [b, tb]] : [[b, tb], [a, ta]]) {
      if (gapUs > 0) busyWait(gapUs);
      const t0 = performance.now();
      fn();
      times.push((performance.now() - t0) * 1000);
    }
  }
  return [fastest(ta), fastest(tb), median(ta), median(tb)];
}

const load = () => os.loadavg().map((x) => x.toFixed(2)).join(" ");
console.log(`wasm linear, 1 thread vs 2 threads (every job split), ${reps} calls each; load average ${load()}`);
console.log("| rows × k → n | multiply-adds | back to back, fastest: 1T µs | 2T µs | 2T ÷ 1T | median 2T ÷ 1T | after a 40 µs gap, fastest: 1T µs | 2T µs | 2T ÷ 1T | median 2T ÷ 1T |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
const features = [[128, 128], [128, 384], [384, 128], [128, 2048], [768, 768], [768, 2048]];
for (const rows of [1, 4, 8, 16, 32]) {
  for (const [k, n] of features) {
    const a = operands(one, rows, k, n), b = operands(two, rows, k, n);
    const hot = race(a, b, 0), cold = race(a, b, 40);
    const us = (x) => x.toFixed(1);
    const cells = ([f1, f2, m1, m2]) => `${us(f1)} | ${us(f2)} | ${(f2 / f1).toFixed(2)} | ${(m2 / m1).toFixed(2)}`;
    console.log(`| ${rows} × ${k} → ${n} | ${rows * k * n} | ${cells(hot)} | ${cells(cold)} |`);
  }
}
// attention: seqQ queries over seqKv positions, nHeads heads of headDim (2·heads·queries·keys·headDim
// multiply-adds: scores and the weighted sum of values)
console.log("");
console.log("| attention: queries × keys, heads × headDim | multiply-adds | back to back, fastest: 1T µs | 2T µs | 2T ÷ 1T | median 2T ÷ 1T | after a 40 µs gap, fastest: 1T µs | 2T µs | 2T ÷ 1T | median 2T ÷ 1T |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
const attentionOperands = (be, seqQ, seqKv, nHeads, headDim) => {
  const width = nHeads * headDim;
  const q = be.allocF32(seqQ * width).fill(0.01), k = be.allocF32(seqKv * width).fill(0.02), v = be.allocF32(seqKv * width).fill(0.03);
  const out = be.allocF32(seqQ * width);
  return () => be.attention(out, q, k, v, seqQ, seqKv, nHeads, nHeads, headDim);
};
for (const [seqQ, seqKv, nHeads, headDim] of [[1, 128, 4, 32], [1, 512, 4, 32], [1, 128, 12, 64], [1, 256, 12, 64], [1, 512, 12, 64], [1, 1024, 12, 64], [16, 64, 4, 32], [64, 64, 4, 32]]) {
  const a = attentionOperands(one, seqQ, seqKv, nHeads, headDim), b = attentionOperands(two, seqQ, seqKv, nHeads, headDim);
  const hot = race(a, b, 0), cold = race(a, b, 40);
  const us = (x) => x.toFixed(1);
  const cells = ([f1, f2, m1, m2]) => `${us(f1)} | ${us(f2)} | ${(f2 / f1).toFixed(2)} | ${(m2 / m1).toFixed(2)}`;
  console.log(`| ${seqQ} × ${seqKv}, ${nHeads} × ${headDim} | ${2 * seqQ * seqKv * nHeads * headDim} | ${cells(hot)} | ${cells(cold)} |`);
}
console.log(`(load average at the end ${load()})`);
await one.dispose();
await two.dispose();
