// What a step's prompt chunk costs in the decode pass (the engine's way since 2026-12-04: one
// decodeBatch of the decode rows and the chunk's rows, logits of the rows it samples only) and
// as a prefill of its own after the pass (the way before), on the embedded model in this
// process: 32 sequences decoding at ~40 positions, and a chunk of K prompt tokens of another
// sequence whose prefix (20 positions) is cached. Each round runs both steps in turns on the same
// caches (rewound after each step); figures are medians over rounds of CPU time (this process:
// the main thread and the pool's worker) and wall time per step, with the load average.
//   cd packages/serve && npx tsup && node bench/prompt-rows.mjs [--threads 2] [--chunks 3,8,24] [--rounds 400]
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createWasmBackend } from "@zero-llm/tensor";
import { openCheckpoint } from "@zero-llm/transformer/node";
import { benchModel } from "./model.mjs";

const { values } = parseArgs({
  options: { threads: { type: "string", default: "2" }, chunks: { type: "string", default: "3,8,24" }, rounds: { type: "string", default: "400" } },
});
const DECODE_ROWS = 32;
const served = await benchModel({});
const backend = await createWasmBackend({ threads: Number(values.threads) });
const { model } = await openCheckpoint(served.file, { backend, maxBatchRows: 64 });

const caches = Array.from({ length: DECODE_ROWS }, (_, r) => {
  const cache = model.newCache({ capacity: 128 });
  model.prefill(Array.from({ length: 40 }, (_, i) => (7 * r + 13 * i + 1) % 2000), cache);
  return cache;
});
const decodeTokens = caches.map((_, r) => 30 + r);
const prompt = model.newCache({ capacity: 128 });
model.prefill(Array.from({ length: 20 }, (_, i) => (17 * i + 5) % 2000), prompt);

function steps(k) {
  const chunk = Array.from({ length: k }, (_, i) => 100 + i);
  const tokens = [...decodeTokens, ...chunk];
  const rowCaches = [...caches, ...chunk.map(() => prompt)];
  const logitRows = [...caches.keys(), DECODE_ROWS + k - 1];
  const rewind = () => {
    for (const c of caches) c.truncate(40);
    prompt.truncate(20);
  };
  return {
    separate: () => {
      model.decodeBatch(decodeTokens, caches);
      model.prefill(chunk, prompt);
      rewind();
    },
    batched: () => {
      model.decodeBatch(tokens, rowCaches, undefined, logitRows);
      rewind();
    },
  };
}

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`the embedded model, wasm ${values.threads} thread(s), ${DECODE_ROWS} decode rows + a chunk of K prompt tokens; µs per step, medians of ${values.rounds} rounds; load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
console.log("| K | separate: CPU | batched: CPU | batched ÷ separate (CPU) | separate: wall | batched: wall | batched ÷ separate (wall) |");
console.log("|---:|---:|---:|---:|---:|---:|---:|");
for (const k of values.chunks.split(",").map(Number)) {
  const fns = steps(k);
  for (let i = 0; i < 50; i++) {
    fns.separate();
    fns.batched();
  }
  const cpu = { separate: [], batched: [] }, wall = { separate: [], batched: [] };
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const key of r % 2 === 0 ? ["separate", "batched"] : ["batched", "separate"]) {
      const c0 = cpuUs(), t0 = performance.now();
      fns[key]();
      wall[key].push((performance.now() - t0) * 1000);
      cpu[key].push(cpuUs() - c0);
    }
  }
  const [cs, cb, ws, wb] = [median(cpu.separate), median(cpu.batched), median(wall.separate), median(wall.batched)];
  console.log(`| ${k} | ${cs.toFixed(0)} | ${cb.toFixed(0)} | ${(cb / cs).toFixed(2)} | ${ws.toFixed(0)} | ${wb.toFixed(0)} | ${(wb / ws).toFixed(2)} |`);
}
console.log(`(load average at the end ${loadavg().map((x) => x.toFixed(2)).join(" ")})`);
await backend.dispose();
served.cleanup();
