// Finite-difference checks of the fused transformer ops: softmax, norms, rope, attention,
// dropout and the losses (see tensor-gradcheck-util.ts for the tolerance).
import { expect, it } from "vitest";
import { Rng, Tensor, attention as tensorAttention, attentionWithProbs } from "@zero-llm/tensor";
import { F, Var } from "../src/index";
import { attentionBackward, attentionBackwardBatched } from "../src/tensor/kernels";
import { getBackend } from "@zero-llm/tensor";
import { describeOnBackends } from "./backends";
import { gradcheck, randomTensor } from "./tensor-gradcheck-util";

const g = new Rng(7);
const r = (shape: number[], lo = -1, hi = 1): Tensor => randomTensor(shape, g, lo, hi);

describeOnBackends("softmax family", () => {
  it("softmax over the last axis", () => gradcheck(([x]) => F.softmax(x), [r([3, 4, 6], -2, 2)]));
  it("logSoftmax over the last axis", () => gradcheck(([x]) => F.logSoftmax(x), [r([5, 7], -2, 2)]));
});

describeOnBackends("normalisations", () => {
  it("layerNorm with weight and bias (x, weight, bias)", () => {
    gradcheck(([x, w, b]) => F.layerNorm(x, w, b), [r([2, 3, 8]), r([8], 0.5, 1.5), r([8])]);
  });
  it("layerNorm without affine parameters", () => gradcheck(([x]) => F.layerNorm(x, null, null), [r([4, 6])]));
  it("rmsNorm with weight", () => gradcheck(([x, w]) => F.rmsNorm(x, w), [r([2, 3, 8]), r([8], 0.5, 1.5)]));
  it("rmsNorm without weight", () => gradcheck(([x]) => F.rmsNorm(x, null, 1e-6), [r([5, 4])]));
});

describeOnBackends("rope", () => {
  for (const style of ["interleaved", "half"] as const) {
    it(`${style}: [batch 2, seq 3, heads 2, headDim 6] from position 5`, () => {
      gradcheck(([x]) => F.rope(x, style, { pos0: 5 }), [r([2, 3, 2, 6])]);
    });
  }
  it("forward equals the tensor package's rope", () => {
    const x = r([3, 2, 4]);
    const ours = F.rope(new Var(x), "half", { pos0: 2, theta: 500 }).data;
    const ref = x.rope("half", { pos0: 2, theta: 500 }).data;
    expect(Array.from(ours)).toEqual(Array.from(ref));
  });
});

describeOnBackends("causal attention (fused backward)", () => {
  it("multi-head: q, k, v [2, 4, 3, 4]", () => {
    gradcheck(([q, k, v]) => F.attention(q, k, v), [r([2, 4, 3, 4]), r([2, 4, 3, 4]), r([2, 4, 3, 4])]);
  });
  it("grouped-query: 4 query heads over 2 kv heads", () => {
    gradcheck(([q, k, v]) => F.attention(q, k, v), [r([1, 5, 4, 4]), r([1, 5, 2, 4]), r([1, 5, 2, 4])]);
  });
  it("queries after a prefix: seqQ 2 against seqKv 5, one kv head (multi-query)", () => {
    gradcheck(([q, k, v]) => F.attention(q, k, v), [r([2, 2, 2, 4]), r([2, 5, 1, 4]), r([2, 5, 1, 4])]);
  });
  it("the batched-matmul backward equals the plain-loop reference (GQA, seqQ < seqKv)", () => {
    const [B, T, S, H, Hkv, D] = [2, 3, 5, 4, 2, 4];
    const q = r([B, T, H, D]), k = r([B, S, Hkv, D]), v = r([B, S, Hkv, D]), dOut = r([B, T, H, D]);
    const { probs } = attentionWithProbs(q, k, v);
    const run = (batched: boolean): Float32Array[] => {
      const grads = [new Float32Array(q.size), new Float32Array(k.size), new Float32Array(v.size)];
      const args = [q.data, k.data, v.data, probs.data, dOut.data, B, T, S, H, Hkv, D] as const;
      if (batched) attentionBackwardBatched(getBackend(), grads[0], grads[1], grads[2], ...args);
      else attentionBackward(grads[0], grads[1], grads[2], ...args);
      return grads;
    };
    const [fast, ref] = [run(true), run(false)];
    fast.forEach((f, i) => f.forEach((x, j) => expect(Math.abs(x - ref[i][j])).toBeLessThan(1e-6)));
  });
  it("forward equals the tensor package's attention", () => {
    const q = r([2, 3, 2, 4]), k = r([2, 3, 2, 4]), v = r([2, 3, 2, 4]);
    const ours = F.attention(new Var(q), new Var(k), new Var(v)).data;
    expect(Array.from(ours)).toEqual(Array.from(tensorAttention(q, k, v).data));
  });
});

describeOnBackends("dropout", () => {
  it("with a fixed mask (same seed per evaluation) the gradient is mask/(1 − p)", () => {
    gradcheck(([x]) => F.dropout(x, 0.3, new Rng(11)), [r([4, 25])]);
  });
  it("drops about p of the elements, scales survivors by 1/(1 − p), and is the identity in eval", () => {
    const x = new Var(new Tensor(new Float32Array(10000).fill(1), [10000]));
    const y = F.dropout(x, 0.25, new Rng(3)).data;
    const zeros = y.filter((v) => v === 0).length;
    expect(zeros / 10000).toBeGreaterThan(0.23);
    expect(zeros / 10000).toBeLessThan(0.27);
    expect(y.filter((v) => v !== 0).every((v) => Math.abs(v - 1 / 0.75) < 1e-6)).toBe(true);
    expect(F.dropout(x, 0.25, new Rng(3), false)).toBe(x);
    // same seed, same mask
    expect(Array.from(F.dropout(x, 0.25, new Rng(3)).data)).toEqual(Array.from(y));
  });
});

describeOnBackends("losses", () => {
  const targets = [2, 0, 4, 4, 1, 3];
  it("crossEntropy", () => gradcheck(([z]) => F.crossEntropy(z, targets), [r([6, 5], -2, 2)]));
  it("crossEntropy with an ignore index and label smoothing 0.1", () => {
    gradcheck(([z]) => F.crossEntropy(z, [2, -100, 4, 4, -100, 3], { labelSmoothing: 0.1 }), [r([2, 3, 5], -2, 2)]);
  });
  it("crossEntropy with the ignore index alone, and with label smoothing alone", () => {
    gradcheck(([z]) => F.crossEntropy(z, [2, -100, 4, 4, -100, 3]), [r([6, 5], -2, 2)]);
    gradcheck(([z]) => F.crossEntropy(z, [2, 0, 4, 4, 1, 3], { labelSmoothing: 0.25 }), [r([6, 5], -2, 2)]);
  });
  it("crossEntropy with a non-default ignore index (0 is skipped, -100 would be an error)", () => {
    gradcheck(([z]) => F.crossEntropy(z, [2, 0, 4, 0, 1, 3], { ignoreIndex: 0 }), [r([6, 5], -2, 2)]);
    const z = new Var(new Tensor(new Float32Array(12), [3, 4]));
    expect(F.crossEntropy(z, [0, 0, 3], { ignoreIndex: 0 }).item()).toBeCloseTo(Math.log(4), 6);
    expect(() => F.crossEntropy(z, [0, -100, 3], { ignoreIndex: 0 })).toThrow(/targets in \[0, 4\) or 0, found -100/);
  });
  it("crossEntropy value: uniform logits give log V; ignored rows do not count", () => {
    const z = new Var(new Tensor(new Float32Array(12), [3, 4]));
    expect(F.crossEntropy(z, [1, -100, 3]).item()).toBeCloseTo(Math.log(4), 6);
    expect(Number.isNaN(F.crossEntropy(z, [-100, -100, -100]).item())).toBe(true);
  });
  it("mseLoss", () => {
    const target = r([3, 4]);
    gradcheck(([x]) => F.mseLoss(x, target), [r([3, 4])]);
  });
});
