/**
 * IO figures: GGUF header parse of a 150k-token vocabulary (strings + f32 scores + i32 types),
 * f32 <-> f16 / bf16 conversion throughput. Also writes sample files to check with Python:
 *   python3 tools/fixtures/gguf_check.py $TMP/zllm-bench.gguf
 *   python3 tools/fixtures/make_safetensors_fixture.py --check $TMP/zllm-bench.safetensors
 * Run: npx esbuild bench/io.ts --bundle --platform=node --format=esm --outfile=/tmp/io-bench.mjs && node /tmp/io-bench.mjs
 */
import { tmpdir } from "node:os";
import path from "node:path";
import { f16ArrayToF32, f32ArrayToBf16, f32ArrayToF16 } from "../src/dtype/half";
import { GgufFile, ggufValue, serializeGguf } from "../src/io/index";
import { writeGgufFile, writeSafetensorsFile } from "../src/node/index";

function time(label: string, repeat: number, fn: () => void): number {
  fn();
  const start = performance.now();
  for (let i = 0; i < repeat; i++) fn();
  const ms = (performance.now() - start) / repeat;
  console.log(`${label}: ${ms.toFixed(2)} ms`);
  return ms;
}

const n = 150_000;
const tokens = Array.from({ length: n }, (_, i) => (i % 7 === 0 ? `Ġwörd${i}` : `tok${i}`));
const bytes = serializeGguf({
  metadata: [
    ["tokenizer.ggml.model", ggufValue.string("gpt2")],
    ["tokenizer.ggml.tokens", ggufValue.array("string", tokens)],
    ["tokenizer.ggml.scores", ggufValue.array("f32", new Float32Array(n).map((_, i) => -i))],
    ["tokenizer.ggml.token_type", ggufValue.array("i32", new Int32Array(n).fill(1))],
  ],
});
console.log(`vocabulary GGUF: ${(bytes.length / 1e6).toFixed(2)} MB`);
const parseMs = time("parse 150k-token vocabulary", 10, () => GgufFile.parse(bytes));
console.log(`  = ${(bytes.length / 1e6 / (parseMs / 1000)).toFixed(0)} MB/s, ${((parseMs * 1e6) / n).toFixed(0)} ns per token`);
const parsed = GgufFile.parse(bytes);
time("serialize 150k-token vocabulary", 5, () => serializeGguf({ metadata: parsed.metadata }));

const values = new Float32Array(1 << 22).map(() => Math.random() * 200 - 100);
const mb = (values.length * 4) / 1e6;
const toF16 = time(`f32 -> f16, ${values.length} values`, 5, () => f32ArrayToF16(values));
console.log(`  = ${(mb / (toF16 / 1000)).toFixed(0)} MB/s of f32 in`);
const halves = f32ArrayToF16(values);
const fromF16 = time("f16 -> f32", 5, () => f16ArrayToF32(halves));
console.log(`  = ${(mb / (fromF16 / 1000)).toFixed(0)} MB/s of f32 out`);
const toBf16 = time("f32 -> bf16", 5, () => f32ArrayToBf16(values));
console.log(`  = ${(mb / (toBf16 / 1000)).toFixed(0)} MB/s of f32 in`);
// Peer in the same run: Math.fround over the same array (the cheapest per-element float op JS has).
const fround = time("peer: Math.fround loop", 5, () => {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.fround(values[i] * 0.5);
});
console.log(`  f32->f16 costs ${(toF16 / fround).toFixed(2)}x a Math.fround pass`);

const gguf = path.join(tmpdir(), "zllm-bench.gguf");
await writeGgufFile(gguf, {
  alignment: 32,
  metadata: [["general.architecture", ggufValue.string("llama")], ["llama.block_count", ggufValue.u32(2)], ["v", ggufValue.array("array", [ggufValue.array("f64", new Float64Array([1.5]))])]],
  tensors: [
    { name: "token_embd.weight", type: "F16", shape: [4, 8], data: f32ArrayToF16(new Float32Array(32).map((_, i) => i / 8)) },
    { name: "blk.0.attn_q.weight", type: "Q8_0", dims: [32, 3], data: new Uint8Array(34 * 3).fill(1) },
    { name: "output_norm.weight", type: "F32", shape: [7], data: new Float32Array(7).fill(1) },
  ],
});
const safetensors = path.join(tmpdir(), "zllm-bench.safetensors");
await writeSafetensorsFile(safetensors, {
  metadata: { format: "pt" },
  tensors: {
    "a.weight": { dtype: "F32", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
    "b.bias": { dtype: "BF16", shape: [2], data: f32ArrayToBf16(new Float32Array([0.5, -2])) },
    ids: { dtype: "I64", shape: [2], data: new BigInt64Array([5n, -7n]) },
  },
});
console.log(`wrote ${gguf} and ${safetensors}`);
