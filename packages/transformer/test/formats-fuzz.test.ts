// Fuzzing the model-file loaders (GGUF, safetensors + config.json, llama2.c): seeded random
// mutations of valid files — bit flips (mostly in the header), truncations, and counts, lengths,
// sizes and offsets inflated to huge values — a few thousand per format. Every outcome must be a
// model or a typed error (TransformerError, GgufError, SafetensorsError, TensorError: a stable
// string `code`), never a hang, an untyped exception (TypeError, RangeError, …) or an allocation
// beyond the bound: at most 8 bytes of weights per byte of file (Q4_0 expands 18 bytes to 32
// floats, 7.1×) plus 1 MiB, counted through the backend every weight is allocated from.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bytesSource, jsBackend, serializeGguf, type Backend, type GgufTensorInput } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import {
  Model, allocateWeights, checkpointFromSource, ggufFromModel, readHf, serializeHfModel, serializeLlama2c, type Config,
} from "../src/index";

const here = path.dirname(fileURLToPath(import.meta.url));
const CASES = 2500;

function fixtureModel(file: string): Model {
  const fx = JSON.parse(readFileSync(path.join(here, "fixtures", file), "utf8")) as { config: Config; weights: Record<string, { shape: number[]; data: number[] }> };
  const weights = allocateWeights(fx.config, jsBackend);
  for (const [name, { shape, data }] of Object.entries(fx.weights)) {
    if (weights.has(name)) weights.get(name).data.set(data);
    else weights.set(name, shape, Float32Array.from(data));
  }
  return new Model(fx.config, weights);
}

/** mulberry32: the same mutations on every run, so a failure replays. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Q8_0 blocks of a row-major f32 matrix (d = max|x| / 127 as f16, q = round(x / d)): a block type for the fuzz base. */
function q8_0(values: Float32Array): Uint8Array {
  const out = new Uint8Array((values.length / 32) * 34);
  const view = new DataView(out.buffer);
  for (let b = 0; b < values.length / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(values[b * 32 + j]));
    const d = amax / 127;
    view.setUint16(b * 34, f16Bits(d), true);
    for (let j = 0; j < 32; j++) view.setInt8(b * 34 + 2 + j, d === 0 ? 0 : Math.round(values[b * 32 + j] / d));
  }
  return out;
}

function f16Bits(x: number): number {
  // positive normal values only (the scales here): round the f32 mantissa to 10 bits
  if (x === 0) return 0;
  const e = Math.floor(Math.log2(x));
  const m = Math.round((x / 2 ** e - 1) * 1024);
  return ((e + 15) << 10) + m;
}

const TYPED = new Set(["TransformerError", "GgufError", "SafetensorsError", "TensorError"]);

interface Outcome {
  loaded: number;
  codes: Map<string, number>;
  /** the slowest case, in ms of the process's CPU time */
  slowestMs: number;
  mostAllocated: number;
}

/** A backend that counts what weights are allocated from it. */
function countingBackend(): { backend: Backend; allocated: () => number; reset: () => void } {
  let total = 0;
  const backend: Backend = {
    ...jsBackend,
    allocF32(length) {
      total += 4 * length;
      return jsBackend.allocF32(length);
    },
    allocBytes(byteLength) {
      total += byteLength;
      return jsBackend.allocBytes(byteLength);
    },
  };
  return { backend, allocated: () => total, reset: () => { total = 0; } };
}

async function fuzz(base: Uint8Array, headerBytes: number, seed: number, load: (bytes: Uint8Array, backend: Backend) => Promise<unknown>, mutateExtra?: (b: Uint8Array, next: () => number) => Uint8Array): Promise<Outcome> {
  const next = rng(seed);
  const counting = countingBackend();
  const outcome: Outcome = { loaded: 0, codes: new Map(), slowestMs: 0, mostAllocated: 0 };
  const HUGE = [2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40, 2 ** 53 - 1];
  for (let i = 0; i < CASES; i++) {
    let bytes: Uint8Array = base.slice();
    const kind = next();
    const pos = (): number => Math.floor(next() < 0.8 ? next() * headerBytes : next() * bytes.length);
    if (kind < 0.4) {
      // 1 to 8 bit flips
      for (let f = 1 + Math.floor(next() * 8); f > 0; f--) {
        const at = Math.min(bytes.length - 1, pos());
        bytes[at] ^= 1 << Math.floor(next() * 8);
      }
    } else if (kind < 0.6) {
      bytes = bytes.slice(0, Math.floor(next() * bytes.length));
    } else if (kind < 0.9 || !mutateExtra) {
      // an inflated u64 or u32 count, length, size or offset
      const view = new DataView(bytes.buffer);
      const at = Math.min(bytes.length - 8, pos());
      if (next() < 0.5) view.setBigUint64(at, BigInt(HUGE[Math.floor(next() * HUGE.length)]) * (next() < 0.2 ? 4096n : 1n), true);
      else view.setUint32(at, next() < 0.5 ? 0xffffffff : 0x7fffffff, true);
    } else {
      bytes = mutateExtra(bytes, next);
    }
    counting.reset();
    // CPU time of the process, not wall-clock: a loaded CI machine stretches the latter 10x
    const t0 = process.cpuUsage();
    try {
      await load(bytes, counting.backend);
      outcome.loaded++;
    } catch (e) {
      const name = e instanceof Error ? e.name : typeof e;
      const code = (e as { code?: unknown }).code;
      if (!TYPED.has(name) || typeof code !== "string") {
        throw new Error(`case ${i} (seed ${seed}): expected a typed error, found ${name}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      const key = `${name}:${code}`;
      outcome.codes.set(key, (outcome.codes.get(key) ?? 0) + 1);
    }
    const cpu = process.cpuUsage(t0);
    outcome.slowestMs = Math.max(outcome.slowestMs, (cpu.user + cpu.system) / 1000);
    outcome.mostAllocated = Math.max(outcome.mostAllocated, counting.allocated());
    expect(counting.allocated(), `case ${i}: bytes allocated for a ${bytes.length}-byte file`).toBeLessThanOrEqual(8 * bytes.length + (1 << 20));
  }
  return outcome;
}

function report(format: string, o: Outcome): void {
  const codes = [...o.codes].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ");
  console.log(`${format}: ${CASES} cases, ${o.loaded} loaded, slowest ${o.slowestMs.toFixed(1)} ms of CPU, most allocated ${o.mostAllocated} B; ${codes}`);
}

describe("fuzzing the model-file loaders: a model or a typed error, bounded time and memory", () => {
  it(`GGUF (llama F32 with biases, gpt2 F16, gpt2 with a Q8_0 matrix): ${CASES} mutations each`, async () => {
    const llama = fixtureModel("tiny-llama-bias.json");
    const gpt2 = fixtureModel("tiny-gpt2.json");
    const q8 = ggufFromModel(gpt2.config, gpt2.weights);
    const bases = [
      serializeGguf(ggufFromModel(llama.config, llama.weights)),
      serializeGguf(ggufFromModel(gpt2.config, gpt2.weights, { type: "F16" })),
      // ffn_down [16, 64]: rows of two 32-element blocks
      serializeGguf({
        metadata: q8.metadata,
        tensors: (q8.tensors ?? []).map((t): GgufTensorInput =>
          t.name === "blk.0.ffn_down.weight" ? { name: t.name, type: "Q8_0", shape: [16, 64], data: q8_0(t.data as Float32Array) } : t),
      }),
    ];
    for (const [i, base] of bases.entries()) {
      const o = await fuzz(base, Math.min(base.length, 4096), 1 + i, (bytes, backend) => checkpointFromSource(bytesSource(bytes), { backend }));
      report("gguf", o);
      expect(o.loaded).toBeGreaterThan(0);
      expect(o.slowestMs).toBeLessThan(2000);
    }
  }, 300_000);

  it(`safetensors + config.json (llama with biases, gpt2 Conv1D): ${CASES} mutations each, JSON numbers inflated too`, async () => {
    for (const [i, file] of ["tiny-llama-bias.json", "tiny-gpt2.json"].entries()) {
      const m = fixtureModel(file);
      const { configJson, safetensors } = serializeHfModel(m.config, m.weights, i === 1 ? { dtype: "F16" } : {});
      const json = JSON.parse(configJson) as unknown;
      const headerLength = Number(new DataView(safetensors.buffer).getBigUint64(0, true)) + 8;
      const inflateJsonNumber = (bytes: Uint8Array, next: () => number): Uint8Array => {
        // rewrite one number of the JSON header (a shape, an offset) as a huge or negative one
        const text = new TextDecoder().decode(bytes.subarray(8, headerLength));
        const numbers = [...text.matchAll(/\d+/g)];
        if (numbers.length === 0) return bytes;
        const target = numbers[Math.floor(next() * numbers.length)];
        const replacement = ["4294967296", "9007199254740993", "1e300", "-1", "0", "18446744073709551616"][Math.floor(next() * 6)];
        const edited = new TextEncoder().encode(text.slice(0, target.index) + replacement + text.slice((target.index ?? 0) + target[0].length));
        const out = new Uint8Array(8 + edited.length + bytes.length - headerLength);
        new DataView(out.buffer).setBigUint64(0, BigInt(edited.length), true);
        out.set(edited, 8);
        out.set(bytes.subarray(headerLength), 8 + edited.length);
        return out;
      };
      const o = await fuzz(safetensors, headerLength, 100 + i, (bytes, backend) => readHf(json, [bytes], { backend }), inflateJsonNumber);
      report("safetensors", o);
      expect(o.loaded).toBeGreaterThan(0);
      expect(o.slowestMs).toBeLessThan(2000);
    }
  }, 300_000);

  it(`llama2.c (tied and untied heads): ${CASES} mutations each, header integers rewritten too`, async () => {
    const m = fixtureModel("tiny-llama-half.json");
    const config = { ...m.config, ropeStyle: "interleaved" as const, normEps: 1e-5, ropeTheta: 10000 };
    for (const [i, tied] of [true, false].entries()) {
      const c = { ...config, tiedEmbeddings: tied };
      const w = allocateWeights(c, jsBackend);
      for (const name of w.names()) if (m.weights.has(name) && name !== "lm_head.weight") w.get(name).data.set(m.weights.get(name).data);
      if (!tied) w.get("lm_head.weight").data.set(m.weights.get("lm_head.weight").data);
      const base = serializeLlama2c(c, w);
      const header = (bytes: Uint8Array, next: () => number): Uint8Array => {
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const values = [0, -1, 1, 2, 3, 7, 64, 1 << 20, 0x7fffffff, -0x80000000, -40];
        view.setInt32(4 * Math.floor(next() * 7), values[Math.floor(next() * values.length)], true);
        return bytes;
      };
      const o = await fuzz(base, 28, 200 + i, (bytes, backend) => checkpointFromSource(bytesSource(bytes), { backend }), header);
      report("llama2.c", o);
      expect(o.loaded).toBeGreaterThan(0);
      expect(o.slowestMs).toBeLessThan(2000);
    }
  }, 300_000);
});
