// llama.cpp's child for bench/quantized.mjs's peak-memory table (issue 14), the peer of
// memory-child.mjs's: node-llama-cpp's CPU prebuilt as users run it (the file mmapped), the same
// 3-token prompt and --tokens greedy decode steps, a context of --context positions (ours: the
// model's seqLen), batches of 64 (our maxBatchRows), K and V of type --kv (with flash attention
// for a quantized cache, which llama.cpp requires). Prints one JSON line: `refused` where
// llama.cpp will not make that cache, and getrusage's max RSS. Without --file: the runtime alone
// (node with node-llama-cpp's addon loaded); with --vocab-only: the runtime and the file's
// vocabulary, which llama.cpp always builds (our memory child builds none: it decodes token ids).
// A script file, not `node -e`: node-llama-cpp tests its binary in a child process started with
// this process's arguments.
//   node bench/llama-memory-child.mjs [--file F.gguf [--vocab-only] --kv f32|q8_0|q4_0 --tokens 16 --context 256] [--threads 1]
import { parseArgs } from "node:util";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { LLAMA_KV_TYPES } from "./llama-cpp.mjs";

const { values } = parseArgs({
  options: {
    file: { type: "string" },
    kv: { type: "string", default: "f32" },
    tokens: { type: "string", default: "16" },
    context: { type: "string", default: "256" },
    threads: { type: "string", default: "1" },
    "vocab-only": { type: "boolean", default: false },
  },
});
const type = LLAMA_KV_TYPES[values.kv];
if (!type) throw new Error(`llama-memory-child: --kv one of ${Object.keys(LLAMA_KV_TYPES).join(", ")}, got ${values.kv}`);

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
let refused = false;
if (values.file) {
  const model = await llama.loadModel({ modelPath: values.file, vocabOnly: values["vocab-only"] });
  let context;
  if (!values["vocab-only"]) try {
    context = await model.createContext({
      contextSize: Number(values.context), batchSize: 64, threads: Number(values.threads), flashAttention: type !== "F32" && type !== "F16",
      experimentalKvCacheKeyType: type, experimentalKvCacheValueType: type,
    });
  } catch {
    refused = true; // a quantized cache whose head size is not a multiple of 32
  }
  if (context) {
    let count = 0; // the first token comes from the prompt's prefill, each later one from a decode step
    for await (const _ of context.getSequence().evaluate([1, 2, 3], { temperature: 0 })) if (++count > Number(values.tokens)) break;
    await context.dispose();
  }
  await model.dispose();
}
console.log(JSON.stringify({ refused, maxRssKb: process.resourceUsage().maxRSS }));
await llama.dispose();
