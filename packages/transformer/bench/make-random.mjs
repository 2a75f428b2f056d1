// Writes random-weight checkpoints in llama2.c's shapes for speed measurements:
//   cd packages/transformer && npx tsup && node bench/make-random.mjs [15M 110M ...] [--dir /tmp]
// → <dir>/zllm-random-<shape>.gguf (F32, minimal vocabulary) and <dir>/zllm-random-<shape>.bin (llama2.c legacy).
// The llama2.c files run in Karpathy's run.c as they are (a 32000-id tokenizer.bin: ../shared/fixtures/llama2c/llama2-tokenizer.bin).
import { writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { BENCH_SHAPES, randomWeights, serializeLlama2c } from "../dist/index.js";
import { writeGgufModel } from "../dist/node.js";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { dir: { type: "string", default: "/tmp" }, seed: { type: "string", default: "1" } } });
for (const shape of positionals.length ? positionals : ["15M", "110M"]) {
  const config = BENCH_SHAPES[shape];
  if (!config) throw new Error(`unknown shape ${shape}: expected one of ${Object.keys(BENCH_SHAPES).join(", ")}`);
  const weights = randomWeights(config, { seed: Number(values.seed) });
  const base = path.join(values.dir, `zllm-random-${shape}`);
  await writeGgufModel(`${base}.gguf`, { config, weights });
  writeFileSync(`${base}.bin`, serializeLlama2c(config, weights));
  console.log(`${shape}: ${(weights.parameterCount() / 1e6).toFixed(1)}M parameters → ${base}.gguf, ${base}.bin`);
}
