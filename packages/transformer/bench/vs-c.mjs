// Decode speed beside our own C forward pass (bench/c-forward/forward.c: f32, OpenMP matvec,
// -Ofast -march=native -fopenmp), the same random-weight model in both, measured in the same run.
//   cd packages/transformer && npx tsup && node bench/vs-c.mjs [--shape 15M|110M|260K ...] [--threads 2,1] [--tokens 64] [--reps 2]
// Each thread count runs both sides with that many threads (ours: wasm backend workers; C:
// OMP_NUM_THREADS). On a shared 2-core machine the 1-thread row is the one to trust when
// anything else is running: an OpenMP barrier then waits for a descheduled thread.
// The C program is compiled once per source version into the OS temp directory; without a C
// compiler (cc, gcc or clang on PATH) the comparison is skipped with the reason.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createWasmBackend } from "@zero-llm/tensor";
import { BENCH_SHAPES, Model, generate, randomWeights } from "../dist/index.js";

const { values } = parseArgs({
  options: {
    shape: { type: "string", multiple: true, default: ["15M"] },
    threads: { type: "string", default: "2,1" },
    tokens: { type: "string", default: "64" },
    reps: { type: "string", default: "2" },
  },
});
const threadCounts = values.threads.split(",").map(Number), newTokens = Number(values.tokens), reps = Number(values.reps);
const PROMPT = 16;
const here = path.dirname(fileURLToPath(import.meta.url));
const source = path.join(here, "c-forward/forward.c");

/** Compiles forward.c; returns the binary's path, or the reason it could not. */
function compile() {
  const text = readFileSync(source);
  const binary = path.join(os.tmpdir(), `zllm-c-forward-${createHash("sha256").update(text).digest("hex").slice(0, 12)}`);
  if (existsSync(binary)) return { binary };
  const compilers = ["cc", "gcc", "clang"].filter((c) => spawnSync(c, ["--version"], { stdio: "ignore" }).status === 0);
  if (compilers.length === 0) return { reason: "no C compiler (cc, gcc, clang) on PATH" };
  let last = "";
  for (const cc of compilers) {
    const r = spawnSync(cc, ["-Ofast", "-march=native", "-fopenmp", source, "-o", binary, "-lm"], { encoding: "utf8" });
    if (r.status === 0) return { binary, compiler: cc };
    last = `${cc}: ${(r.stderr || "").trim().split("\n")[0]}`;
  }
  return { reason: `compiling forward.c failed (${last})` };
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
const fmt = (xs) => `${mean(xs).toFixed(1)} ± ${std(xs).toFixed(1)}`;

const c = compile();
console.log(`C: ${c.binary ? "forward.c (-Ofast -march=native -fopenmp)" : `skipped, ${c.reason}`}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);

for (const shape of values.shape) {
  const config = BENCH_SHAPES[shape];
  if (!config) throw new Error(`unknown shape ${shape}: expected one of ${Object.keys(BENCH_SHAPES).join(", ")}`);
  const prompt = Array.from({ length: PROMPT }, (_, i) => (i * 7919 + 1) % config.vocabSize);
  for (const threads of threadCounts) {
    const backend = await createWasmBackend({ threads });
    const model = new Model(config, randomWeights(config, { seed: 1, backend }), { backend });
    const ours = () => {
      const run = generate(model, prompt, { maxTokens: newTokens, cache: model.newCache({ capacity: PROMPT + newTokens + 1 }) });
      const tokens = [...run];
      return { tokens, tps: run.stats.generateTokensPerSecond };
    };
    const theirs = () => {
      const args = [config.dim, config.hiddenDim, config.nLayers, config.nHeads, config.nKvHeads, config.vocabSize, config.seqLen, PROMPT, newTokens, 1].map(String);
      const r = spawnSync(c.binary, args, { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
      if (r.status !== 0) throw new Error(`forward.c failed: ${r.stderr}`);
      const out = JSON.parse(r.stdout);
      return { tokens: out.tokens, tps: out.tokens_per_s };
    };
    ours(); // warm the JIT
    const mine = [], peer = [];
    let agree = "";
    for (let r = 0; r < reps; r++) {
      const a = ours();
      mine.push(a.tps);
      if (!c.binary) continue;
      const b = theirs();
      peer.push(b.tps);
      let same = 0;
      while (same < a.tokens.length && a.tokens[same] === b.tokens[same]) same++;
      agree = `${same}/${a.tokens.length}`;
    }
    const params = (model.weights.parameterCount() / 1e6).toFixed(1);
    console.log(
      `${shape} shape (${params}M, random), ${threads} thread(s): decode ${newTokens} tokens  ours ${fmt(mine)} tok/s` +
        (c.binary ? ` | C forward ${fmt(peer)} tok/s | ours / C ${(mean(mine) / mean(peer)).toFixed(2)}x | greedy identical ${agree}` : ""),
    );
    await backend.dispose();
  }
}
