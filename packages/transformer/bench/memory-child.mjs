// The child process whose peak resident memory bench/quantized.mjs reports (issue 14), as module
// source for `node --input-type=module -e`: a wasm backend; with a file, loadModel, a cache of KV
// type `kv`, a 3-token prefill and `tokens` decode steps; then one JSON line (the cache's and the
// run state's bytes, getrusage's max RSS). bench/memory-timeline.mjs runs this same child with
// `marks`: a timestamped "MARK <epoch ms> <stage>" line after the load, the prefill and each step.
// dist: the file: URL of the transformer build's dist/ (another checkout's, for a peer).
export function memoryChildSource({ dist, file, kv, tokens, threads, marks = false }) {
  const mark = (name) => (marks ? `process.stdout.write("MARK " + (performance.timeOrigin + performance.now()) + " ${name}\\n");` : "");
  return `
import { createWasmBackend } from "@zero-llm/tensor";
import { loadModel } from "${dist}/node.js";
const backend = await createWasmBackend({ threads: ${threads} });
${file ? `const model = await loadModel(${JSON.stringify(file)}, { backend });
${mark("loaded")}
const cache = model.newCache({ kType: "${kv}", vType: "${kv}" });
let logits = model.prefill([1, 2, 3], cache).logits;
${mark("prefill")}
for (let i = 0; i < ${tokens}; i++) { logits = model.decode((i * 31) % model.config.vocabSize, cache); ${mark("d\" + (i + 1) + \"")} }
${mark("end")}
console.log(JSON.stringify({ cacheBytes: cache.bytes(), runState: model.runStateBytes(), maxRssKb: process.resourceUsage().maxRSS }));` : `${mark("end")}
console.log(JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS }));`}
await backend.dispose();
`;
}
