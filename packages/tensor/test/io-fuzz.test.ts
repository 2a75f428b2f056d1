// Fuzzing the GGUF and safetensors readers on the PyTorch/gguf-py fixtures (every metadata value
// type, nested arrays, every tensor type the fixtures hold): seeded bit flips, truncations and
// inflated u64/u32 fields, 3000 cases per format. Each case parses the header and reads every
// tensor, raw and as f32 where a conversion exists; the outcome must be success or a GgufError /
// SafetensorsError / TensorError with a string code: never a hang or an untyped exception, and
// never a buffer larger than the file (every size is checked against it before allocation).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { bytesSource, GgufReader, SafetensorsReader } from "../src/io/index";
import { rng } from "./backend-helpers";

const here = path.dirname(fileURLToPath(import.meta.url));
const CASES = 3000;
const TYPED = new Set(["GgufError", "SafetensorsError", "TensorError"]);

function mutate(base: Uint8Array, header: number, next: () => number): Uint8Array {
  let bytes = base.slice();
  const kind = next();
  const pos = (): number => Math.floor(next() < 0.85 ? next() * header : next() * bytes.length);
  if (kind < 0.45) {
    for (let f = 1 + Math.floor(next() * 6); f > 0; f--) bytes[Math.min(bytes.length - 1, pos())] ^= 1 << Math.floor(next() * 8);
  } else if (kind < 0.65) {
    bytes = bytes.slice(0, Math.floor(next() * bytes.length));
  } else {
    const view = new DataView(bytes.buffer);
    const at = Math.min(bytes.length - 8, pos());
    const huge = [2 ** 31, 2 ** 32, 2 ** 48, 2 ** 53 - 1];
    if (next() < 0.6) view.setBigUint64(at, BigInt(huge[Math.floor(next() * huge.length)]), true);
    else view.setUint32(at, 0xffffffff, true);
  }
  return bytes;
}

async function run(base: Uint8Array, header: number, seed: number, readAll: (bytes: Uint8Array) => Promise<number>): Promise<string> {
  const next = rng(seed);
  const codes = new Map<string, number>();
  let ok = 0, largest = 0;
  for (let i = 0; i < CASES; i++) {
    const bytes = mutate(base, header, next);
    try {
      largest = Math.max(largest, await readAll(bytes) / Math.max(1, bytes.length));
      ok++;
    } catch (e) {
      const name = e instanceof Error ? e.name : typeof e;
      const code = (e as { code?: unknown }).code;
      if (!TYPED.has(name) || typeof code !== "string") throw new Error(`case ${i}: expected a typed error, found ${name}: ${String(e)}`, { cause: e });
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
  }
  expect(largest).toBeLessThanOrEqual(8);
  return `${ok} read whole (largest output ${largest.toFixed(2)}× the file); ${[...codes].map(([c, n]) => `${c} ${n}`).join(", ")}`;
}

describe("fuzzing the container readers: success or a typed error", () => {
  it(`GGUF (gguf-python.gguf: every value type, F32/F16/Q8_0/Q4_0 tensors): ${CASES} mutations`, async () => {
    const base = new Uint8Array(readFileSync(path.join(here, "fixtures/gguf-python.gguf")));
    const summary = await run(base, Math.min(base.length, 10_000), 11, async (bytes) => {
      const reader = await GgufReader.open(bytesSource(bytes), { initialRead: 256 });
      let out = 0;
      for (const t of reader.tensors) {
        out = Math.max(out, (await reader.readTensorBytes(t.name)).length);
        if (["F32", "F16", "BF16", "F64", "Q8_0", "Q4_0"].includes(t.type.name)) {
          // an f32 output is at most 8× the stored bytes (Q4_0: 18 bytes → 32 floats)
          expect(4 * t.elementCount).toBeLessThanOrEqual(8 * bytes.length);
          out = Math.max(out, 4 * (await reader.readTensorFloat32(t.name)).length);
        }
      }
      return out;
    });
    console.log(`gguf: ${summary}`);
  }, 300_000);

  it(`safetensors (safetensors-python.safetensors): ${CASES} mutations`, async () => {
    const base = new Uint8Array(readFileSync(path.join(here, "fixtures/safetensors-python.safetensors")));
    const header = 8 + Number(new DataView(base.buffer).getBigUint64(0, true));
    const summary = await run(base, header, 12, async (bytes) => {
      const reader = await SafetensorsReader.open(bytesSource(bytes));
      let out = 0;
      for (const t of reader.tensors) {
        out = Math.max(out, (await reader.readTensorBytes(t.name)).length);
        if (["F32", "F16", "BF16", "F64"].includes(t.dtype)) out = Math.max(out, 4 * (await reader.readTensorFloat32(t.name)).length);
      }
      return out;
    });
    console.log(`safetensors: ${summary}`);
  }, 300_000);
});
