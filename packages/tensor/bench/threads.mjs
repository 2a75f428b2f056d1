// Thread scaling of the wasm backend: the fastest single call out of many, per thread count,
// for a 512³ matmul, a 110M-llama decode matvec (2048×768) and a 12-head attention step over
// 512 cached positions. On a machine shared with other jobs the fastest call is the one that
// found the cores free, which is what the split itself can deliver.
// Run after a build: node bench/threads.mjs
import os from "node:os";
import { createWasmBackend } from "../dist/index.js";
import { coresAvailable } from "./cpu-probe.mjs";

const maxThreads = Math.min(os.availableParallelism?.() ?? os.cpus().length, 64);
const CALLS = 300;

function fastest(fn) {
  for (let i = 0; i < 20; i++) fn();
  let best = Infinity;
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

const cases = [
  ["matmul 512×512×512", 2 * 512 ** 3, (be) => {
    const a = be.allocF32(512 * 512).fill(0.5), c = be.allocF32(512 * 512);
    return () => be.matmul(c, a, a, 512, 512, 512);
  }],
  ["matvec 2048×768", 2 * 2048 * 768, (be) => {
    const w = be.allocF32(2048 * 768).fill(0.1), x = be.allocF32(768).fill(1), y = be.allocF32(2048);
    return () => be.matvec(y, w, x, 2048, 768);
  }],
  ["attention 1×512, 12 heads × 64", 4 * 12 * 512 * 64, (be) => {
    const q = be.allocF32(12 * 64).fill(0.1), k = be.allocF32(512 * 768).fill(0.2), v = be.allocF32(512 * 768).fill(0.3);
    const out = be.allocF32(12 * 64);
    return () => be.attention(out, q, k, v, 1, 512, 12, 12, 64);
  }],
];

console.log(`cores this process could get: ${(await coresAvailable(maxThreads)).toFixed(2)} of ${maxThreads}`);
console.log(`| kernel | ${Array.from({ length: maxThreads }, (_, i) => `${i + 1}T`).join(" | ")} | speed-up |`);
console.log(`|---|${"---:|".repeat(maxThreads)}---:|`);
for (const [name, flops, setup] of cases) {
  const times = [];
  for (let threads = 1; threads <= maxThreads; threads++) {
    const be = await createWasmBackend({ threads });
    times.push(fastest(setup(be)));
    await be.dispose();
  }
  const cells = times.map((ms) => `${(ms * 1000).toFixed(0)} µs (${(flops / (ms / 1000) / 1e9).toFixed(1)} GFLOP/s)`);
  console.log(`| ${name} | ${cells.join(" | ")} | ${(times[0] / times[times.length - 1]).toFixed(2)}× |`);
}
console.log(`cores this process could get: ${(await coresAvailable(maxThreads)).toFixed(2)} of ${maxThreads}`);
