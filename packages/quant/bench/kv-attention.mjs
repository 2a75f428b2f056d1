// One decode step's attention (one query, every head) over a KV cache of f32 rows (the backend's
// `attention`) and of packed f16 / q8_0 / q4_0 rows (`attentionPacked`, rows packed by this
// package's row codecs), at 256 and 1024 positions, in the 15M (6 heads × 48) and 110M
// (12 heads × 64) shapes: microseconds per layer and the ratio to f32, same run. Each contestant
// cycles through enough copies of its cache (≥ 96 MiB) that every call reads it from DRAM, as a
// decode step does (one layer's cache per call).
//
// Run after a build: node bench/kv-attention.mjs [--quick] [--threads 1,2]
import os from "node:os";
import { createWasmBackend } from "@zero-llm/tensor";
import { KV_ROW_FORMATS } from "../dist/index.js";
import { bestMsPerCall } from "../../../tools/bench-helpers/race.mjs";

const quick = process.argv.includes("--quick");
const budgetMs = quick ? 150 : 500;
const threadsArg = process.argv.indexOf("--threads");
const threadCounts = threadsArg > 0 ? process.argv[threadsArg + 1].split(",").map(Number) : [1, Math.min(2, os.availableParallelism?.() ?? 2)];
const STREAM_BYTES = 96 << 20;
const TYPES = ["f16", "q8_0", "q4_0"];
const shapes = [["15M", 6, 6, 48], ["110M", 12, 12, 64]];

let seed = 1;
const next = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);

const race = (contestants) => bestMsPerCall(contestants, budgetMs);

for (const threads of threadCounts) {
  const backend = await createWasmBackend({ threads });
  console.log(`\nwasm, ${threads} thread${threads > 1 ? "s" : ""}: µs per layer (× time of f32), KV bytes per layer`);
  console.log(`| shape, positions | f32 | ${TYPES.join(" | ")} |`);
  console.log(`|---|---:|${TYPES.map(() => "---:").join("|")}|`);
  for (const [model, nHeads, nKvHeads, headDim] of shapes) {
    for (const positions of [256, 1024]) {
      const rowLen = nKvHeads * headDim;
      const owned = [];
      const alloc = (array) => (owned.push(array), array);
      const q = alloc(backend.allocF32(nHeads * headDim));
      for (let i = 0; i < q.length; i++) q[i] = next() - 0.5;
      const out = alloc(backend.allocF32(nHeads * headDim));
      const values = new Float32Array(positions * rowLen);
      const copies = (bytes) => Math.max(1, Math.ceil(STREAM_BYTES / bytes));
      const contestants = {};
      const bytesOf = { f32: 2 * positions * rowLen * 4 };
      {
        const caches = Array.from({ length: copies(bytesOf.f32) }, () => {
          const k = alloc(backend.allocF32(positions * rowLen)), v = alloc(backend.allocF32(positions * rowLen));
          for (let i = 0; i < k.length; i++) { k[i] = next() - 0.5; v[i] = next() - 0.5; }
          return [k, v];
        });
        let i = 0;
        contestants.f32 = () => { const [k, v] = caches[i++ % caches.length]; backend.attention(out, q, k, v, 1, positions, nHeads, nKvHeads, headDim); };
      }
      for (const type of TYPES) {
        const format = KV_ROW_FORMATS[type];
        const rowBytes = format.rowBytes(rowLen);
        bytesOf[type] = 2 * positions * rowBytes;
        const caches = Array.from({ length: copies(bytesOf[type]) }, () => [0, 1].map(() => {
          const bytes = alloc(backend.allocBytes(positions * rowBytes));
          for (let i = 0; i < values.length; i++) values[i] = next() - 0.5;
          for (let t = 0; t < positions; t++) format.quantizeRow(values, t * rowLen, rowLen, bytes, t * rowBytes);
          return bytes;
        }));
        let i = 0;
        contestants[type] = () => { const [k, v] = caches[i++ % caches.length]; backend.attentionPacked(out, q, k, v, type, type, 1, positions, nHeads, nKvHeads, headDim); };
      }
      const best = race(contestants);
      const cells = ["f32", ...TYPES].map((key) => {
        const us = (best[key] * 1000).toFixed(0), kb = (bytesOf[key] / 1024).toFixed(0);
        return key === "f32" ? `${us} µs, ${kb} KiB` : `${us} µs (${(best[key] / best.f32).toFixed(2)}×), ${kb} KiB`;
      });
      console.log(`| ${model} ${nHeads}×${headDim}, ${positions} | ${cells.join(" | ")} |`);
      for (const array of owned) backend.free(array);
    }
  }
  await backend.dispose();
}
