// One context rule (issue 12 #7): past the trained context (config.seqLen) is CONTEXT_OVERFLOW on
// every path (a cache sized past it, prefill, decode, batched decode, generate, perplexity),
// unless allowContextOverflow asks for it on a RoPE model; a gpt2 model never goes past its
// learned positions. (Before, a llama cache of any capacity was accepted, so a 200-token
// sequence ran on a 128-token model.)
import { jsBackend } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { Model, TransformerError, generate, perplexity, randomWeights, type Config } from "../src/index";

const LLAMA: Config = {
  arch: "llama", dim: 16, hiddenDim: 24, nLayers: 1, nHeads: 2, nKvHeads: 1, vocabSize: 30, seqLen: 8,
  normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: true,
};
const GPT2: Config = { ...LLAMA, arch: "gpt2", nKvHeads: 2 };

function model(c: Config): Model {
  return new Model(c, randomWeights(c, { seed: 2, backend: jsBackend }));
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TransformerError);
    return (e as TransformerError).code;
  }
  return "no error";
}

const tokens = (n: number): number[] => Array.from({ length: n }, (_, i) => (i * 7 + 1) % 30);

describe("past the trained context is CONTEXT_OVERFLOW", () => {
  it.each([["llama", LLAMA], ["gpt2", GPT2]] as const)("%s: a cache, a prefill, a decode, a batch, generate and perplexity", (_name, config) => {
    const m = model(config);
    expect(codeOf(() => m.newCache({ capacity: 9 }))).toBe("CONTEXT_OVERFLOW");
    expect(codeOf(() => m.prefill(tokens(9), m.newCache()))).toBe("CONTEXT_OVERFLOW");
    const full = m.newCache();
    m.prefill(tokens(8), full);
    expect(codeOf(() => m.decode(1, full))).toBe("CONTEXT_OVERFLOW");
    expect(codeOf(() => m.decodeBatch([1, 2], [full, m.newCache()]))).toBe("CONTEXT_OVERFLOW");
    expect(codeOf(() => [...generate(m, tokens(9))])).toBe("CONTEXT_OVERFLOW");
    expect(codeOf(() => perplexity(m, tokens(20), { seqLen: 9 }))).toBe("CONTEXT_OVERFLOW");
    // up to the context everything runs; generation stops at the end of the context, with the reason
    const run = generate(m, tokens(6), { maxTokens: 10 });
    expect([...run].length).toBe(3);
    expect(run.stats.stopReason).toBe("contextFull");
  });

  it("allowContextOverflow lets a RoPE model run past it (positions are computed), never a gpt2 one", () => {
    const llama = model(LLAMA);
    const long = llama.newCache({ capacity: 12, allowContextOverflow: true });
    llama.prefill(tokens(10), long);
    expect(Number.isFinite(llama.decode(3, long)[0])).toBe(true);
    expect(long.length).toBe(11);
    const gpt2 = model(GPT2);
    expect(codeOf(() => gpt2.newCache({ capacity: 9, allowContextOverflow: true }))).toBe("CONTEXT_OVERFLOW");
  });
});
