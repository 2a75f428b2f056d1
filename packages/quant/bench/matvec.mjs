// Quantized matrix × vector (the decode step's projections) against our own f32 matvec on the
// same shapes, in the same run: GB/s of weights read and GFLOP/s (2·rows·cols per call), and
// the ratio to f32. Shapes are llama2.c's stories15M (dim 288, hidden 768, vocab 32000) and
// stories110M (dim 768, hidden 2048) projections.
//
// A decode step reads every weight once from DRAM, so each contestant cycles through enough
// copies of its matrix (≥ 96 MiB) that nothing is left in the 32 MiB L3 between calls. Figures
// are the best of interleaved ~50 ms samples (a shared machine's least disturbed moment).
// The weights are random valid blocks (scales of either sign, every code): the kernels' speed
// does not depend on the values.
//
// Then prefill: 64 input rows at once through each 110M matrix, against the f32 batch-invariant
// `linear` kernel that inference uses (GFLOP/s and the ratio).
//
// q4_0 twice: as GGUF stores it (row after row) and in tiles of four rows ("q4_0 tiles",
// packQ4_0Tiles), the layout a loaded model's q4_0 matrices take and the kernel its decode runs.
//
// Run after a build: node bench/matvec.mjs [--quick] [--threads 1,2]
import os from "node:os";
import { createWasmBackend, f32ToF16, packQ4_0Tiles, QUANT_TYPES, quantRowBytes } from "@zero-llm/tensor";
import { coresAvailable } from "../../tensor/bench/cpu-probe.mjs";
import { bestMsPerCall } from "../../../tools/bench-helpers/race.mjs";

const quick = process.argv.includes("--quick");
const budgetMs = quick ? 150 : 500;
const threadsArg = process.argv.indexOf("--threads");
const threadCounts = threadsArg > 0 ? process.argv[threadsArg + 1].split(",").map(Number) : [1, Math.min(2, os.availableParallelism?.() ?? 2)];
const STREAM_BYTES = 96 << 20;
const shapes = [
  ["15M", 288, 288], ["15M", 768, 288], ["15M", 288, 768], ["15M", 32000, 288],
  ["110M", 768, 768], ["110M", 2048, 768], ["110M", 768, 2048], ["110M", 32000, 768],
];
// the table's columns: each type, and q4_0 a second time in tiles
const COLUMNS = ["f16", "q8_0", "q4_0", "q4_0 tiles", "q4_1", "q4_k"];
/** A column's block type. */
const typeOf = (column) => (column === "q4_0 tiles" ? "q4_0" : column);

/** A contestant's weights of its column's type (random valid blocks) and its call. */
function quantCall(be, column, w, y, x, inputRows, cols, rows) {
  const type = typeOf(column);
  fillBlocks(w, type);
  if (column !== "q4_0 tiles") return () => be.matmulQuant(y, x, w, type, inputRows, cols, rows);
  packQ4_0Tiles(w, rows, cols);
  return () => be.matmulQuant(y, x, w, "q4_0", inputRows, cols, rows, "q4_0x4");
}

let seed = 1;
const next = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);

/** Random valid blocks for a [rows, cols] weight of `type`, written into `bytes`. */
function fillBlocks(bytes, type) {
  for (let i = 0; i < bytes.length; i++) bytes[i] = (next() * 256) | 0;
  const { blockBytes } = QUANT_TYPES[type];
  const halves = type === "f16" ? 1 : type === "q4_1" || type === "q4_k" ? 2 : 1;
  for (let b = 0; b < bytes.length; b += blockBytes) {
    for (let h = 0; h < halves; h++) {
      const v = f32ToF16((next() - 0.5) * (type === "f16" ? 0.2 : 0.02));
      bytes[b + 2 * h] = v & 0xff;
      bytes[b + 2 * h + 1] = v >> 8;
    }
  }
}

const race = (contestants) => bestMsPerCall(contestants, budgetMs);

// every array of the current row, freed before the next one
const owned = [];
const alloc = (array) => (owned.push(array), array);

/** A call that cycles through enough copies of one matrix that each call reads it from DRAM. */
function streamed(backend, matrixBytes, make) {
  const copies = Math.max(1, Math.ceil(STREAM_BYTES / matrixBytes));
  const calls = Array.from({ length: copies }, () => make(backend));
  let i = 0;
  return () => calls[i++ % copies]();
}

const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
console.log(`cores available: ${(await coresAvailable(Math.max(...threadCounts))).toFixed(2)}`);
for (const threads of threadCounts) {
  const backend = await createWasmBackend({ threads });
  console.log(`\nwasm, ${threads} thread${threads > 1 ? "s" : ""}, ${backend.relaxedSimd ? "relaxed SIMD" : "plain SIMD"}: GB/s of weights | GFLOP/s | time vs f32 matvec`);
  console.log(`| shape | ${["f32", ...COLUMNS].join(" | ")} |`);
  console.log(`|---|${["f32", ...COLUMNS].map(() => "---:").join("|")}|`);
  for (const [model, rows, cols] of shapes) {
    const x = alloc(backend.allocF32(cols));
    for (let i = 0; i < cols; i++) x[i] = next() - 0.5;
    const y = alloc(backend.allocF32(rows));
    const bytesOf = { f32: rows * cols * 4 };
    const contestants = {
      f32: streamed(backend, bytesOf.f32, (be) => {
        const w = alloc(be.allocF32(rows * cols));
        for (let i = 0; i < w.length; i++) w[i] = (next() - 0.5) * 0.1;
        return () => be.matvec(y, w, x, rows, cols);
      }),
    };
    for (const column of COLUMNS) {
      const type = typeOf(column);
      if (cols % QUANT_TYPES[type].blockSize !== 0) continue;
      bytesOf[column] = rows * quantRowBytes(type, cols);
      contestants[column] = streamed(backend, bytesOf[column], (be) => quantCall(be, column, alloc(be.allocBytes(bytesOf[column])), y, x, 1, cols, rows));
    }
    const best = race(contestants);
    const cells = ["f32", ...COLUMNS].map((key) => {
      if (best[key] === undefined) return "—";
      const seconds = best[key] / 1000;
      const gbs = bytesOf[key] / seconds / 1e9, gflops = (2 * rows * cols) / seconds / 1e9;
      return key === "f32" ? `${fmt(gbs)} · ${fmt(gflops)}` : `${fmt(gbs)} · ${fmt(gflops)} · ${(best.f32 / best[key]).toFixed(2)}×`;
    });
    console.log(`| ${model} ${rows}×${cols} | ${cells.join(" | ")} |`);
    for (const array of owned.splice(0)) backend.free(array);
  }
  const ROWS = 64;
  console.log(`\nprefill, ${ROWS} rows: GFLOP/s | time vs f32 linear`);
  console.log(`| shape | ${["f32", ...COLUMNS].join(" | ")} |`);
  console.log(`|---|${["f32", ...COLUMNS].map(() => "---:").join("|")}|`);
  for (const [model, rows, cols] of shapes.filter(([m]) => m === "110M")) {
    const x = alloc(backend.allocF32(ROWS * cols));
    for (let i = 0; i < x.length; i++) x[i] = next() - 0.5;
    const y = alloc(backend.allocF32(ROWS * rows));
    const wf = alloc(backend.allocF32(rows * cols));
    for (let i = 0; i < wf.length; i++) wf[i] = (next() - 0.5) * 0.1;
    const contestants = { f32: () => backend.linear(y, x, wf, ROWS, cols, rows) };
    for (const column of COLUMNS) {
      contestants[column] = quantCall(backend, column, alloc(backend.allocBytes(rows * quantRowBytes(typeOf(column), cols))), y, x, ROWS, cols, rows);
    }
    const best = race(contestants);
    const cells = ["f32", ...COLUMNS].map((key) => {
      const gflops = (2 * ROWS * rows * cols) / (best[key] / 1000) / 1e9;
      return key === "f32" ? fmt(gflops) : `${fmt(gflops)} · ${(best.f32 / best[key]).toFixed(2)}×`;
    });
    console.log(`| ${model} ${ROWS}×${cols} · [${rows}×${cols}]ᵀ | ${cells.join(" | ")} |`);
    for (const array of owned.splice(0)) backend.free(array);
  }
  await backend.dispose();
}
