// V8 compiles wasm twice: first with its baseline compiler (Liftoff), then the hot functions
// again with the optimizing one (TurboFan). A kernel can be right under one and wrong under the
// other (Node 20's Liftoff got a relaxed-SIMD dot product wrong in some register assignments),
// and a test process mostly sees one of them per call. So the quantized kernels are checked
// against the js reference in fresh processes pinned to each compiler, plain and relaxed SIMD.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/index.js");

const script = `
const { createWasmBackend, jsBackend, QUANT_TYPES, quantRowBytes, KV_TYPES, kvRowBytes, f32ToF16, packQ4_0Tiles } = await import(${JSON.stringify(dist)});
let seed = 12345;
const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
const failures = [];
for (const relaxedSimd of [false, true]) {
  let wasm;
  try { wasm = await createWasmBackend({ relaxedSimd }); } catch { continue; }
  for (const type of Object.keys(QUANT_TYPES)) {
    for (const [rows, k, n] of [[1, 768, 37], [5, 512, 9], [6, 256, 5]]) {
      const w = new Uint8Array(n * quantRowBytes(type, k)).map(() => Math.floor(next() * 256));
      const { blockBytes } = QUANT_TYPES[type];
      // finite scales: clear the top exponent bit of every f16 in the scale fields (and f16 weights)
      const scaleBytes = type === "q4_1" || type === "q4_k" ? 4 : 2;
      for (let b = 0; b < w.length; b += blockBytes) for (let i = 1; i < scaleBytes; i += 2) w[b + i] &= 0x3b;
      const x = new Float32Array(rows * k).map(() => next() * 2 - 1);
      const want = new Float32Array(rows * n), got = new Float32Array(rows * n);
      jsBackend.matmulQuant(want, x, w, type, rows, k, n);
      for (let rep = 0; rep < 3; rep++) {
        wasm.matmulQuant(got, x, w, type, rows, k, n);
        const bad = type === "f16"
          ? got.findIndex((v, i) => !(Math.abs(v - want[i]) <= 1e-4 * (1 + Math.abs(want[i]))))
          : got.findIndex((v, i) => !Object.is(v, want[i]));
        if (bad >= 0) failures.push(type + (relaxedSimd ? " relaxed" : " plain") + " [" + rows + "," + k + "," + n + "] at " + bad + ": " + got[bad] + " vs " + want[bad]);
      }
    }
  }
  // q4_0 in tiles of four rows (a full tile and a 1-block tail per row group: k = 160, 288)
  for (const [rows, k, n] of [[1, 160, 36], [5, 288, 8]]) {
    const w = new Uint8Array(n * quantRowBytes("q4_0", k)).map(() => Math.floor(next() * 256));
    for (let b = 0; b < w.length; b += 18) w[b + 1] &= 0x3b;
    const x = new Float32Array(rows * k).map(() => next() * 2 - 1);
    const want = new Float32Array(rows * n), got = new Float32Array(rows * n);
    jsBackend.matmulQuant(want, x, w, "q4_0", rows, k, n);
    packQ4_0Tiles(w, n, k);
    for (let rep = 0; rep < 3; rep++) {
      wasm.matmulQuant(got, x, w, "q4_0", rows, k, n, "q4_0x4");
      const bad = got.findIndex((v, i) => !Object.is(v, want[i]));
      if (bad >= 0) failures.push("q4_0 tiles" + (relaxedSimd ? " relaxed" : " plain") + " [" + rows + "," + k + "," + n + "] at " + bad + ": " + got[bad] + " vs " + want[bad]);
    }
  }
  // attention over packed KV rows: scores and outputs within float rounding of the reference
  for (const [type, [seqQ, seqKv, nHeads, nKvHeads, headDim]] of Object.keys(KV_TYPES).flatMap((t) => [[t, [2, 37, 4, 2, 64]], [t, [1, 29, 6, 3, 48]]])) {
    const rowBytes = kvRowBytes(type, nKvHeads * headDim);
    const rows = () => {
      const b = new Uint8Array(seqKv * rowBytes).map(() => Math.floor(next() * 256));
      const step = type === "f32" ? 4 : type === "f16" ? 2 : KV_TYPES[type].blockBytes;
      for (let i = 0; i < b.length; i += step) {
        if (type === "f32") new DataView(b.buffer).setFloat32(i, next() - 0.5, true);
        else { const h = f32ToF16((next() - 0.5) * (type === "f16" ? 1 : 0.05)); b[i] = h & 255; b[i + 1] = h >> 8; }
        if (type === "q4_1") { const m = f32ToF16(-0.1 * next()); b[i + 2] = m & 255; b[i + 3] = m >> 8; }
      }
      return b;
    };
    const k = rows(), v = rows(), q = new Float32Array(seqQ * nHeads * headDim).map(() => next() - 0.5);
    const want = new Float32Array(q.length), got = new Float32Array(q.length);
    jsBackend.attentionPacked(want, q, k, v, type, type, seqQ, seqKv, nHeads, nKvHeads, headDim);
    for (let rep = 0; rep < 3; rep++) {
      wasm.attentionPacked(got, q, k, v, type, type, seqQ, seqKv, nHeads, nKvHeads, headDim);
      const bad = got.findIndex((x, i) => !(Math.abs(x - want[i]) <= 1e-6 + 2e-5 * Math.abs(want[i])));
      if (bad >= 0) failures.push("attentionPacked " + type + (relaxedSimd ? " relaxed" : " plain") + " at " + bad + ": " + got[bad] + " vs " + want[bad]);
    }
  }
  await wasm.dispose();
}
process.stdout.write(failures.length ? failures.join("\\n") : "ok");
`;

describe.skipIf(!existsSync(dist))("quantized kernels under each V8 wasm compiler (dist/; skipped until `pnpm build` has run)", () => {
  it.each([
    ["Liftoff (baseline) only", ["--liftoff", "--no-wasm-tier-up"]],
    ["TurboFan (optimizing) only", ["--no-liftoff"]],
  ])("%s: the same bits as the js reference", (_, flags) => {
    const run = spawnSync(process.execPath, [...flags, "--input-type=module", "-e", script], { encoding: "utf8", timeout: 120_000 });
    expect(run.error).toBeUndefined();
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe("ok");
  });
});

// The f32 linear kernels sum with fused multiply-adds in the relaxed-SIMD build (simd.ts fmadd):
// a row decoded alone early on (Liftoff) and the same row in a batch once hot (TurboFan) must
// still be the same bits, so both compilers must fuse alike. Each process prints the bits of a
// few products, plain and relaxed; the two processes must print the same.
const linearScript = `
const { createWasmBackend } = await import(${JSON.stringify(dist)});
let seed = 777;
const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
const lines = [];
for (const relaxedSimd of [false, true]) {
  let wasm;
  try { wasm = await createWasmBackend({ relaxedSimd }); } catch { continue; }
  for (const [rows, k, n] of [[1, 300, 37], [1, 128, 64], [6, 131, 9], [32, 128, 20]]) {
    const w = new Float32Array(n * k).map(() => next() - 0.5), x = new Float32Array(rows * k).map(() => next() - 0.5);
    const out = new Float32Array(rows * n);
    wasm.linear(out, x, w, rows, k, n);
    lines.push((relaxedSimd ? "relaxed " : "plain ") + Array.from(new Uint32Array(out.buffer)).join(","));
  }
  await wasm.dispose();
}
process.stdout.write(lines.join("\\n"));
`;

describe.skipIf(!existsSync(dist))("the f32 linear kernel under each V8 wasm compiler (dist/; skipped until `pnpm build` has run)", () => {
  it("Liftoff only and TurboFan only give the same bits, plain and relaxed SIMD", () => {
    const outputs = [["--liftoff", "--no-wasm-tier-up"], ["--no-liftoff"]].map((flags) => {
      const run = spawnSync(process.execPath, [...flags, "--input-type=module", "-e", linearScript], { encoding: "utf8", timeout: 120_000 });
      expect(run.error).toBeUndefined();
      expect(run.stderr).toBe("");
      return run.stdout;
    });
    expect(outputs[0].split("\n").length).toBeGreaterThanOrEqual(4);
    expect(outputs[0]).toBe(outputs[1]);
  });
});
