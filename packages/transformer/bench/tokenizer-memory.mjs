// What a GGUF model's tokenizer costs in memory: the retained V8 heap and the resident memory
// added by findCheckpointTokenizer (the path `zllm generate`, `chat` and the server take) on a
// checkpoint already open, and the time it takes, each in a fresh process (--expose-gc), rounds
// interleaved with a peer measured in the same run:
//
//   ours       this build: the SentencePiece pieces stay the GGUF reader's bytes and offsets
//   strings    this build, the pieces handed over as decoded strings (fromGgufMetadata over
//              plainGgufMetadata): what decoding 32,000 pieces costs by itself
//   peer       --peer DIST: another build's transformer dist directory (e.g. a copy of the
//              previous build's packages/transformer/dist inside a copy of the workspace)
//
//   cd packages/transformer && npx tsup && node bench/tokenizer-memory.mjs [--file M.gguf] [--reps 5] [--peer /tmp/old/packages/transformer/dist]
// Default file: the stories15M shape in Q4_0, random weights, with a 32,000-piece Llama vocabulary.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { BENCH_SHAPES, randomWeights } from "../dist/index.js";
import { writeGgufModel } from "../dist/node.js";

const { values } = parseArgs({
  options: {
    file: { type: "string" },
    reps: { type: "string", default: "5" },
    peer: { type: "string" },
  },
});
const here = path.dirname(fileURLToPath(import.meta.url));
const reps = Number(values.reps);

let file = values.file;
if (file === undefined) {
  file = "/tmp/zllm-bench-15M-Q4_0.gguf"; // the file bench/quantized.mjs writes
  if (!existsSync(file)) {
    const config = BENCH_SHAPES["15M"];
    await writeGgufModel(file, { config, weights: randomWeights(config, { seed: 1 }) }, { type: "Q4_0" });
  }
}

const child = (dist, mode) => `
import { openCheckpoint, findCheckpointTokenizer, plainGgufMetadata } from "${dist}/node.js";
import { fromGgufMetadata } from "@zero-llm/tokenizer-bpe";
const checkpoint = await openCheckpoint(${JSON.stringify(file)});
const prompt = "Once upon a time, there was a little girl who loved to play outside.";
// No warm-up: a first build would leave the decoded pieces cached in the reader's string array.
globalThis.gc(); globalThis.gc();
const heap0 = process.memoryUsage().heapUsed, buffers0 = process.memoryUsage().arrayBuffers, rss0 = process.memoryUsage().rss;
const cpu0 = process.cpuUsage();
const kept = ${mode === "strings" ? `fromGgufMetadata(plainGgufMetadata(checkpoint.ggufMetadata))` : `(await findCheckpointTokenizer(checkpoint)).tokenizer`};
const ids = kept.encode(prompt);
const text = kept.decode(ids);
const cpu = process.cpuUsage(cpu0);
const rss1 = process.memoryUsage().rss;
globalThis.gc(); globalThis.gc();
const heap1 = process.memoryUsage().heapUsed, buffers1 = process.memoryUsage().arrayBuffers;
console.log(JSON.stringify({ heap: heap1 - heap0, buffers: buffers1 - buffers0, rss: rss1 - rss0, ms: (cpu.user + cpu.system) / 1000, tokens: ids.length, ids: ids.join(" "), text, vocab: kept.vocabSize }));
globalThis.keep = kept;
`;

const run = (dist, mode) => {
  const r = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", child(dist, mode)], { encoding: "utf8", cwd: here });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr.slice(-800)}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
};

const contestants = [["ours", pathToFileURL(path.join(here, "../dist")).href, "ours"], ["strings", pathToFileURL(path.join(here, "../dist")).href, "strings"]];
if (values.peer !== undefined) contestants.push(["peer", pathToFileURL(path.resolve(values.peer)).href, "ours"]);
const results = new Map(contestants.map(([name]) => [name, []]));
for (let round = 0; round < reps; round++) {
  for (const [name, dist, mode] of contestants) results.get(name).push(run(dist, mode));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const MB = (bytes) => (bytes / 1e6).toFixed(2);
const ours = results.get("ours");
console.log(`${file}: ${ours[0].vocab} pieces; ${reps} rounds, fresh process each, medians (min–max); load average ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
console.log("| build | retained V8 heap MB | retained typed-array buffers MB | RSS added MB | CPU ms (build + encode + decode) | heap + buffers ÷ ours |");
console.log("|---|---:|---:|---:|---:|---:|");
for (const [name] of contestants) {
  const rs = results.get(name);
  if (!rs.every((r) => r.ids === ours[0].ids && r.text === ours[0].text)) throw new Error(`${name}: the prompt gave other tokens or another decoded text than ours`);
  const span = (key, f) => `${f(median(rs.map((r) => r[key])))} (${f(Math.min(...rs.map((r) => r[key])))}–${f(Math.max(...rs.map((r) => r[key])))})`;
  const ratio = median(rs.map((r) => r.heap + r.buffers)) / median(ours.map((r) => r.heap + r.buffers));
  console.log(`| ${name} | ${span("heap", MB)} | ${span("buffers", MB)} | ${span("rss", MB)} | ${span("ms", (x) => x.toFixed(0))} | ${ratio.toFixed(2)}× |`);
}
