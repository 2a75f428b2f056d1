import { expect } from "vitest";
import { Logprobs, Sampler, type SamplerOptions } from "../../src/index";
import { allocatedPerStep, claimIsolate } from "../../../../tools/test-helpers/alloc-probe";

// Shared by the sampler allocation tests (allocation-*.test.ts), measured as in
// tools/test-helpers/alloc-probe.ts: after a warm-up, the young generation must not grow while
// thousands of tokens are sampled (< 1 byte per token; one boxed number is 16). The chain calls
// each step directly (no array of closures), every double that crosses a call travels in a typed
// array, and the scratch rows live as long as the sampler.
//
// Each configuration has a file of its own (vitest runs every file in a fresh JavaScript isolate):
// the sampler's call sites (sample's chain, the softmax and selection helpers) keep the JIT
// feedback of every configuration run before in the same isolate, so when all of them shared one
// file a case measured code compiled partly for the others, and its figure depended on the order
// of the cases (the same flake the transformer's decode cases had: decode-alloc-helpers.ts there).

/** A deterministic logits row shaped like a language model's: a few large values, a long tail. */
export function row(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 4294967296;
    out[i] = 8 * u * u * u - 2;
  }
  return out;
}

/** The measured sampler configurations, by the name of their file: allocation-<name>.test.ts. */
export const SAMPLER_CASES = {
  "greedy": { temperature: 0 },
  "temperature": { temperature: 0.8 },
  "top-k": { temperature: 0.8, topK: 40 },
  "top-p": { temperature: 0.8, topP: 0.9 },
  "top-p-flat": { temperature: 50, topP: 0.5 },
  "typical-p": { typicalP: 0.7 },
  "min-p-repetition": { minP: 0.05, repetitionPenalty: 1.1 },
  "frequency-presence": { frequencyPenalty: 0.5, presencePenalty: 0.5, repetitionWindow: 64 },
  "dry": { dryMultiplier: 0.8, dryBreakers: [[9], [100, 7]] },
  "xtc": { xtcProbability: 0.5, xtcThreshold: 0.01 },
  "mirostat": { mirostat: 2, temperature: 0.9 },
  "logit-bias": { logitBias: { 3: 1.5, 8: -Infinity } },
  // llama.cpp's CLI chain: penalties, DRY, top-k 40, typical, top-p 0.95, min-p 0.05, XTC, temp 0.8
  "llama-cpp-chain": {
    repetitionPenalty: 1.1, frequencyPenalty: 0.1, presencePenalty: 0.1, repetitionWindow: 64, dryMultiplier: 0.8,
    topK: 40, typicalP: 0.95, topP: 0.95, minP: 0.05, xtcProbability: 0.1, temperature: 0.8,
  },
} satisfies Record<string, SamplerOptions>;
export type SamplerCase = keyof typeof SAMPLER_CASES;

/** Probe bytes per call of `step`, printed under `label` (so a CI log shows the figure, not just the verdict). */
function bytesPerStep(label: string, step: (i: number) => void, steps: number): number {
  const perStep = allocatedPerStep(step, steps);
  console.log(`${label}: ${perStep.toFixed(3)} bytes allocated per step`);
  return perStep;
}

/** Sampler.sample under the configuration `name`, over a 2,048- and a 32,000-token vocabulary: < 1 byte per token. */
export function expectSampleAllocatesNothing(name: SamplerCase): void {
  claimIsolate(`sampler ${name}`);
  const options: SamplerOptions = SAMPLER_CASES[name];
  for (const n of [2048, 32000]) {
    const sampler = new Sampler({ ...options, seed: 1 });
    const rows = [row(n, 1), row(n, 2), row(n, 3)];
    const history = new Int32Array([5, 9, 100, 7, 5, 9, 100, 7, 5, 9]);
    const allowed = new Uint32Array((n + 31) >>> 5).fill(0xffffffff);
    allowed[0] = 0xfffffffe;
    const step = (i: number): void => {
      sampler.sample(rows[i % 3], history, allowed);
    };
    for (let i = 0; i < (n > 4096 ? 600 : 3000); i++) step(i);
    expect(bytesPerStep(`sampler ${name}, vocabulary ${n}`, step, n > 4096 ? 60 : 300), `vocabulary ${n}`).toBeLessThan(1);
  }
}

/** Sampler.probabilities (speculative decoding's step) over a 4,096-token vocabulary: < 1 byte per call. */
export function expectProbabilitiesAllocateNothing(): void {
  claimIsolate("sampler probabilities()");
  const sampler = new Sampler({ topK: 40, topP: 0.9, temperature: 0.7 });
  const rows = [row(4096, 1), row(4096, 2)];
  const out = new Float64Array(4096);
  const step = (i: number): void => {
    sampler.probabilities(out, rows[i % 2]);
  };
  for (let i = 0; i < 2000; i++) step(i);
  expect(bytesPerStep("sampler probabilities()", step, 200)).toBeLessThan(1);
}

/** Logprobs.compute with the top 5 over a 4,096-token vocabulary: < 1 byte per call. */
export function expectLogprobsAllocateNothing(): void {
  claimIsolate("Logprobs.compute");
  const lp = new Logprobs(5);
  const rows = [0, 1, 2].map((s) => new Float32Array(4096).map((_, i) => Math.sin(i * (s + 1))));
  const step = (i: number): void => lp.compute(rows[i % 3], i % 4096);
  for (let i = 0; i < 2000; i++) step(i);
  expect(bytesPerStep("Logprobs.compute", step, 200)).toBeLessThan(1);
}
