// One decode measurement in a process of its own, for bench/quantized.mjs's speed table: load a
// GGUF file in one engine (ours: the wasm backend; llama.cpp: node-llama-cpp's CPU prebuilt),
// decode 16 tokens untimed (the JIT's tier-up, the first use of every kernel, the first touch of
// the weights), then time the decode of --tokens, and print one JSON line:
//   { tps, cpuTps, hugeKb, cpuBuild }  tokens/s by the wall clock and per second of the process's
//                            CPU time, the KB of the process's memory mapped with 2 MiB pages,
//                            and (llama.cpp) which of its CPU builds ran: node-llama-cpp ships one
//                            per instruction set (haswell: AVX2, zen4: AVX-512 with VNNI, …) and
//                            loads the widest the CPU has, so the figures depend on it
// Why a process per measurement: on the dev machine (a KVM guest) the same kernel reads freshly
// allocated weights up to 1.4× faster or slower depending on where the pages land, fixed for the
// life of a process; a fresh process per round makes that luck fall evenly on both engines, and
// the median over rounds is the engine, not one draw of pages.
//   node bench/decode-once.mjs --engine ours|llama.cpp --file F.gguf [--threads 1] [--tokens 128] [--prompt 16] [--vocab 32000]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { llamaCpuBuild } from "./llama-cpp.mjs";

const { values } = parseArgs({
  options: {
    engine: { type: "string" },
    file: { type: "string" },
    threads: { type: "string", default: "1" },
    tokens: { type: "string", default: "128" },
    prompt: { type: "string", default: "16" },
    vocab: { type: "string", default: "32000" },
  },
});
const threads = Number(values.threads), tokens = Number(values.tokens), promptLength = Number(values.prompt);
const WARM_UP = 16;
// the same prompt for both engines, as bench/quantized.mjs builds it
const prompt = Array.from({ length: promptLength }, (_, i) => (i * 7919 + 1) % Number(values.vocab));

/** KB of this process's memory in 2 MiB pages (anonymous THP and file-backed PMD mappings). */
function hugeKb() {
  try {
    const rollup = readFileSync("/proc/self/smaps_rollup", "utf8");
    const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(rollup)?.[1] ?? 0);
    return field("AnonHugePages") + field("FilePmdMapped") + field("ShmemPmdMapped");
  } catch {
    return null;
  }
}

/** Times fn's loop from the moment it calls start(): wall clock and process CPU time. */
function clock() {
  let t0 = 0, cpu0 = 0;
  const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  return {
    start() { t0 = performance.now(); cpu0 = cpuMs(); },
    stop(count) { return { tps: (count * 1000) / (performance.now() - t0), cpuTps: (count * 1000) / (cpuMs() - cpu0) }; },
  };
}

let result;
if (values.engine === "ours") {
  const { createWasmBackend } = await import("@zero-llm/tensor");
  const { loadModel } = await import("../dist/node.js");
  const backend = await createWasmBackend({ threads });
  const model = await loadModel(values.file, { backend });
  // prefill the prompt, then n decode steps on the argmax (the argmax is part of a decode step)
  const decode = (n, timer) => {
    const cache = model.newCache({ capacity: prompt.length + n + 1, allowContextOverflow: true });
    let logits = model.prefill(prompt, cache).logits;
    timer?.start();
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
      logits = model.decode(best, cache);
    }
    return timer?.stop(n);
  };
  decode(WARM_UP);
  result = decode(tokens, clock());
  await backend.dispose();
} else if (values.engine === "llama.cpp") {
  const llamaCpp = await import("node-llama-cpp");
  const llama = await llamaCpp.getLlama({ gpu: false, build: "never", logLevel: llamaCpp.LlamaLogLevel.error });
  const lm = await llama.loadModel({ modelPath: values.file });
  // tokens 2…n + 1 of a greedy run: the first one's time includes the prefill
  const decode = async (n, timer) => {
    const context = await lm.createContext({ contextSize: prompt.length + n + 16, threads, batchSize: 512 });
    let count = 0;
    for await (const _ of context.getSequence().evaluate(prompt, { temperature: 0 })) {
      count++;
      if (count === 1) timer?.start();
      if (count >= n + 1) break;
    }
    const r = timer?.stop(count - 1);
    await context.dispose();
    return r;
  };
  await decode(WARM_UP);
  result = { ...(await decode(tokens, clock())), cpuBuild: llamaCpuBuild() };
  await lm.dispose();
  await llama.dispose();
} else {
  throw new Error(`decode-once: --engine ours or llama.cpp, got ${values.engine}`);
}
console.log(JSON.stringify({ ...result, hugeKb: hugeKb() }));
