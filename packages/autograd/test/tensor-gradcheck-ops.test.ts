// Finite-difference checks of every elementwise, reduction, matmul and shape rule, on random
// shapes including broadcasting (see tensor-gradcheck-util.ts for the tolerance).
import { it } from "vitest";
import { Rng } from "@zero-llm/tensor";
import { F } from "../src/index";
import { describeOnBackends } from "./backends";
import { awayFromZero, gradcheck, randomTensor } from "./tensor-gradcheck-util";

const g = new Rng(2024);
const r = (shape: number[]): ReturnType<typeof randomTensor> => randomTensor(shape, g);

/**
 * Seeded random broadcasting pairs: a random shape of 1–4 axes (sizes 1–4), and a partner that
 * drops some leading axes and sets some of the remaining ones to 1, in either order.
 */
function randomBroadcastPairs(count: number, seed: number): [number[], number[]][] {
  const rng = new Rng(seed);
  const pick = (n: number): number => Math.floor(rng.uniform() * n);
  const pairs: [number[], number[]][] = [];
  for (let i = 0; i < count; i++) {
    const full = Array.from({ length: 1 + pick(4) }, () => 1 + pick(4));
    const drop = pick(full.length);
    const partner = full.slice(drop).map((d) => (rng.uniform() < 0.4 ? 1 : d));
    pairs.push(rng.uniform() < 0.5 ? [full, partner] : [partner, full]);
  }
  return pairs;
}

describeOnBackends("broadcasting binary ops", () => {
  const pairs: [number[], number[]][] = [
    [[2, 3, 4], [2, 3, 4]],
    [[2, 3, 4], [3, 1]],
    [[4], [2, 1, 4]],
    [[2, 1, 3], [1, 4, 1]],
    [[3, 2], [1]],
  ];
  for (const [sa, sb] of pairs) {
    const tag = `[${sa}] with [${sb}]`;
    it(`add ${tag}`, () => gradcheck(([a, b]) => F.add(a, b), [r(sa), r(sb)]));
    it(`sub ${tag}`, () => gradcheck(([a, b]) => F.sub(a, b), [r(sa), r(sb)]));
    it(`mul ${tag}`, () => gradcheck(([a, b]) => F.mul(a, b), [r(sa), r(sb)]));
    it(`div ${tag}`, () => gradcheck(([a, b]) => F.div(a, b), [r(sa), awayFromZero(sb, g, 0.5, 1.5)]));
  }
  for (const [sa, sb] of randomBroadcastPairs(12, 31)) {
    it(`random pair [${sa}] with [${sb}]: add, mul, div`, () => {
      gradcheck(([a, b]) => F.add(a, b), [r(sa), r(sb)]);
      gradcheck(([a, b]) => F.mul(a, b), [r(sa), r(sb)]);
      gradcheck(([a, b]) => F.div(a, b), [r(sa), awayFromZero(sb, g, 0.5, 1.5)]);
    });
  }
  it("scalar operands (affine): x·3 − 2, x/4 + 1", () => {
    gradcheck(([x]) => F.sub(F.mul(x, 3), 2), [r([3, 5])]);
    gradcheck(([x]) => F.add(F.div(x, 4), 1), [r([3, 5])]);
  });
  it("a tensor used twice accumulates both contributions: x·x + x", () => {
    gradcheck(([x]) => F.add(F.mul(x, x), x), [r([4, 3])]);
  });
});

describeOnBackends("unary ops", () => {
  const x = (): ReturnType<typeof randomTensor> => randomTensor([3, 7], g, -2, 2);
  it("exp", () => gradcheck(([a]) => F.exp(a), [x()]));
  it("log", () => gradcheck(([a]) => F.log(a), [randomTensor([3, 7], g, 0.5, 2)]));
  it("sqrt", () => gradcheck(([a]) => F.sqrt(a), [randomTensor([3, 7], g, 0.5, 2)]));
  it("pow 3 and pow 0.5", () => {
    gradcheck(([a]) => F.pow(a, 3), [x()]);
    gradcheck(([a]) => F.pow(a, 0.5), [randomTensor([3, 7], g, 0.5, 2)]);
  });
  it("neg", () => gradcheck(([a]) => F.neg(a), [x()]));
  it("tanh", () => gradcheck(([a]) => F.tanh(a), [x()]));
  it("sigmoid", () => gradcheck(([a]) => F.sigmoid(a), [x()]));
  it("relu (inputs kept away from the kink)", () => gradcheck(([a]) => F.relu(a), [awayFromZero([3, 7], g)]));
  it("gelu (tanh approximation)", () => gradcheck(([a]) => F.gelu(a), [x()]));
  it("silu", () => gradcheck(([a]) => F.silu(a), [x()]));
});

describeOnBackends("reductions", () => {
  it("sum over all, one axis, two axes, keepdim", () => {
    gradcheck(([a]) => F.sum(a), [r([2, 3, 4])]);
    gradcheck(([a]) => F.sum(a, 1), [r([2, 3, 4])]);
    gradcheck(([a]) => F.sum(a, [0, 2], true), [r([2, 3, 4])]);
    gradcheck(([a]) => F.sum(a, -1, true), [r([2, 3, 4])]);
  });
  it("mean over all and over axes", () => {
    gradcheck(([a]) => F.mean(a), [r([2, 3, 4])]);
    gradcheck(([a]) => F.mean(a, [1, 2]), [r([2, 3, 4])]);
  });
  it("max over one axis and over everything (distinct values 0.1 apart: no ties within h)", () => {
    const distinct = (): ReturnType<typeof randomTensor> => {
      const t = r([2, 5, 3]);
      const order = Array.from(t.data.keys()).sort(() => g.uniform() - 0.5);
      order.forEach((pos, i) => (t.data[pos] = 0.1 * i - 1.5));
      return t;
    };
    gradcheck(([a]) => F.max(a, 1), [distinct()]);
    gradcheck(([a]) => F.max(a, -1, true), [distinct()]);
    gradcheck(([a]) => F.max(a), [distinct()]);
  });
});

describeOnBackends("matmul and linear", () => {
  it("2-d · 2-d", () => gradcheck(([a, b]) => F.matmul(a, b), [r([3, 4]), r([4, 5])]));
  it("batched · shared 2-d weight", () => gradcheck(([a, b]) => F.matmul(a, b), [r([2, 3, 4]), r([4, 5])]));
  it("batched · batched (4-d)", () => gradcheck(([a, b]) => F.matmul(a, b), [r([2, 3, 4, 5]), r([2, 3, 5, 2])]));
  it("broadcast batch axes: [3, 4] · [2, 4, 5] and [2, 1, 3, 4] · [1, 2, 4, 5] (as torch.matmul)", () => {
    gradcheck(([a, b]) => F.matmul(a, b), [r([3, 4]), r([2, 4, 5])]);
    gradcheck(([a, b]) => F.matmul(a, b), [r([2, 1, 3, 4]), r([1, 2, 4, 5])]);
    gradcheck(([a, b]) => F.matmul(a, b), [r([2, 3, 3, 4]), r([3, 4, 2])]);
  });
  it("random sizes, odd and past the kernel's 4-wide tiles: [m, k] · [k, n]", () => {
    const rng = new Rng(5);
    for (let i = 0; i < 4; i++) {
      const [m, k, n] = [1 + Math.floor(rng.uniform() * 9), 1 + Math.floor(rng.uniform() * 9), 1 + Math.floor(rng.uniform() * 9)];
      gradcheck(([a, b]) => F.matmul(a, b), [r([2, m, k]), r([k, n])]);
    }
  });
  it("linear with bias, x [2, 3, 5], weight [4, 5]", () => {
    gradcheck(([x, w, b]) => F.linear(x, w, b), [r([2, 3, 5]), r([4, 5]), r([4])]);
  });
  it("linear without bias", () => gradcheck(([x, w]) => F.linear(x, w), [r([6, 5]), r([3, 5])]));
});

describeOnBackends("shape ops", () => {
  it("reshape", () => gradcheck(([a]) => F.mul(F.reshape(a, [4, -1]), F.reshape(a, [4, 6])), [r([2, 3, 4])]));
  it("permute and transpose", () => {
    gradcheck(([a]) => F.permute(a, [2, 0, 1]), [r([2, 3, 4])]);
    gradcheck(([a, b]) => F.mul(F.transpose(a, 0, 2), b), [r([2, 3, 4]), r([4, 3, 2])]);
  });
  it("slice on the first, middle and last axis", () => {
    gradcheck(([a]) => F.slice(a, 0, 1, 2), [r([2, 3, 4])]);
    gradcheck(([a]) => F.slice(a, 1, 1, 3), [r([2, 3, 4])]);
    gradcheck(([a]) => F.slice(a, -1, 0, 2), [r([2, 3, 4])]);
  });
  it("concat of three inputs along axis 1", () => {
    gradcheck(([a, b, c]) => F.concat([a, b, c], 1), [r([2, 1, 3]), r([2, 2, 3]), r([2, 3, 3])]);
  });
  it("embedding with repeated ids accumulates rows", () => {
    gradcheck(([w]) => F.embedding(w, [3, 1, 3, 0, 3, 4], [2, 3]), [r([5, 4])]);
  });
});
