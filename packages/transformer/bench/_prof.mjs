import { Sampler, ModelDrafter, speculativeGenerate } from "@zero-llm/sampling";
import { createWasmBackend } from "@zero-llm/tensor";
import { ModelSequence } from "../dist/index.js";
import { loadModel } from "../dist/node.js";
const be = await createWasmBackend({ threads: 2 });
const target = await loadModel("/tmp/spec/medium-interim", { backend: be });
const draft = await loadModel("/work/spec/models/default", { backend: be });
const prompt = Array.from({ length: 60 }, (_, i) => (i * 37) % 2000);
function timed(seq, acc) {
  return {
    get vocabSize() { return seq.vocabSize; }, get length() { return seq.length; }, get capacity() { return seq.capacity; },
    prefill(t) { const a = performance.now(); seq.prefill(t); acc.prefill += performance.now() - a; acc.prefillCalls++; },
    verify(t) { const a = performance.now(); const r = seq.verify(t); acc.verify += performance.now() - a; acc.verifyCalls++; acc.rows += t.length; return r; },
    rewind(n) { seq.rewind(n); },
  };
}
for (let rep = 0; rep < 3; rep++) {
  const tAcc = { prefill: 0, verify: 0, prefillCalls: 0, verifyCalls: 0, rows: 0 };
  const dAcc = { prefill: 0, verify: 0, prefillCalls: 0, verifyCalls: 0, rows: 0 };
  const drafter = new ModelDrafter(timed(new ModelSequence(draft, draft.newCache()), dAcc), { pMin: 0.75 });
  const t0 = performance.now();
  const run = speculativeGenerate(timed(new ModelSequence(target, target.newCache()), tAcc), drafter, prompt, { maxTokens: 96, draftMax: 4 });
  let n = 0; for (const _ of run) n++;
  const total = performance.now() - t0;
  console.log(`total ${total.toFixed(1)} ms for ${n}; target`, JSON.stringify(tAcc, (k, v) => typeof v === "number" ? +v.toFixed(2) : v), "draft", JSON.stringify(dAcc, (k, v) => typeof v === "number" ? +v.toFixed(2) : v), run.stats);
}
const c = target.newCache(); target.prefill(prompt, c);
let t0 = performance.now(); for (let i = 0; i < 96; i++) target.decode(5, c); console.log("target decode ms", ((performance.now() - t0) / 96).toFixed(3));
const d = draft.newCache(); draft.prefill(prompt, d);
t0 = performance.now(); for (let i = 0; i < 96; i++) draft.decode(5, d); console.log("draft decode ms", ((performance.now() - t0) / 96).toFixed(3));
await be.dispose();
