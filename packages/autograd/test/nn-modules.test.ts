// Modules: dotted parameter names, state dicts, train/eval, freezing, layer forwards, initializers.
import { describe, expect, it } from "vitest";
import { Rng, Tensor } from "@zero-llm/tensor";
import { AutogradError, F, Var, nn, param } from "../src/index";

class Attn extends nn.Module {
  readonly q_proj = this.child("q_proj", new nn.Linear(4, 4, { bias: false }));
  readonly o_proj = this.child("o_proj", new nn.Linear(4, 4));
}
class Layer extends nn.Module {
  readonly self_attn = this.child("self_attn", new Attn());
  readonly input_layernorm = this.child("input_layernorm", new nn.RMSNorm(4));
  readonly drop = this.child("drop", new nn.Dropout(0.5, { generator: new Rng(1) }));
}
class Model extends nn.Module {
  readonly embed_tokens = this.child("embed_tokens", new nn.Embedding(10, 4));
  readonly layers = this.child("layers", new nn.ModuleList([new Layer(), new Layer()]));
  readonly norm = this.child("norm", new nn.LayerNorm(4));
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof AutogradError) return e.code;
    throw e;
  }
  return "no error";
}

describe("Module tree", () => {
  it("names parameters with dots, Hugging Face style, in registration order", () => {
    expect(new Model().namedParameters().map(([n]) => n)).toEqual([
      "embed_tokens.weight",
      "layers.0.self_attn.q_proj.weight", "layers.0.self_attn.o_proj.weight", "layers.0.self_attn.o_proj.bias",
      "layers.0.input_layernorm.weight",
      "layers.1.self_attn.q_proj.weight", "layers.1.self_attn.o_proj.weight", "layers.1.self_attn.o_proj.bias",
      "layers.1.input_layernorm.weight",
      "norm.weight", "norm.bias",
    ]);
    expect(new Model().numParameters()).toBe(40 + 2 * (16 + 16 + 4 + 4) + 8);
  });

  it("stateDict round-trips into another model; it is a copy", () => {
    const a = new Model(), b = new Model();
    const state = a.stateDict();
    b.loadStateDict(state);
    for (const [name, p] of b.namedParameters()) expect(Array.from(p.data), name).toEqual(Array.from(state.get(name)!.data));
    a.norm.weight.data[0] = 42;
    expect(state.get("norm.weight")!.data[0]).toBe(1);
  });

  it("loadStateDict checks names (strict) and shapes", () => {
    const m = new Model();
    const state = m.stateDict();
    state.delete("norm.bias");
    state.set("extra.weight", new Tensor(new Float32Array(1), [1]));
    expect(codeOf(() => m.loadStateDict(state))).toBe("AUTOGRAD_STATE_DICT");
    expect(m.loadStateDict(state, { strict: false })).toEqual({ missing: ["norm.bias"], unexpected: ["extra.weight"] });
    const bad = new Model().stateDict();
    bad.set("norm.weight", new Tensor(new Float32Array(5), [5]));
    expect(codeOf(() => m.loadStateDict(bad))).toBe("AUTOGRAD_STATE_DICT");
  });

  it("train/eval reach every submodule; Dropout is the identity in eval", () => {
    const m = new Model().eval();
    expect(m.namedModules().every(([, mod]) => !mod.training)).toBe(true);
    const x = new Var(new Tensor(new Float32Array(8).fill(1), [2, 4]));
    expect(m.layers.items[0].drop.forward(x)).toBe(x);
    m.train();
    expect(Array.from(m.layers.items[0].drop.forward(x).data).some((v) => v === 0)).toBe(true);
  });

  it("freeze / unfreeze and trainable-only parameter lists", () => {
    const m = new Model();
    m.embed_tokens.freeze();
    expect(m.parameters({ trainableOnly: true }).length).toBe(m.parameters().length - 1);
    m.unfreeze();
    expect(m.parameters({ trainableOnly: true }).length).toBe(m.parameters().length);
  });
});

describe("layers", () => {
  it("Linear: PyTorch default init bound 1/√in; forward = x·Wᵀ + b", () => {
    const lin = new nn.Linear(16, 3, { generator: new Rng(4) });
    expect(Math.max(...Array.from(lin.weight.data, Math.abs))).toBeLessThanOrEqual(0.25);
    const x = new Tensor(Float32Array.from({ length: 32 }, (_, i) => i / 10), [2, 16]);
    const expected = x.matmul(lin.weight.value.T).add(lin.bias!.value);
    const got = lin.forward(new Var(x)).data;
    Array.from(expected.data).forEach((e, i) => expect(got[i]).toBeCloseTo(e, 4));
  });
  it("Embedding rows, LayerNorm and RMSNorm forwards match the tensor package", () => {
    const emb = new nn.Embedding(5, 3, { generator: new Rng(2) });
    expect(Array.from(emb.forward([4, 0]).data)).toEqual([...emb.weight.data.subarray(12, 15), ...emb.weight.data.subarray(0, 3)]);
    const x = new Tensor(Float32Array.from([1, 2, 4, -1, 0, 3]), [2, 3]);
    const ln = new nn.LayerNorm(3), rms = new nn.RMSNorm(3, { eps: 1e-6 });
    expect(Array.from(ln.forward(new Var(x)).data)).toEqual(Array.from(x.layerNorm(ln.weight.value, ln.bias!.value).data));
    expect(Array.from(rms.forward(new Var(x)).data)).toEqual(Array.from(x.rmsNorm(rms.weight.value, 1e-6).data));
  });
  it("rejects bad sizes", () => {
    expect(codeOf(() => new nn.Linear(0, 3))).toBe("AUTOGRAD_BAD_ARGUMENT");
    expect(codeOf(() => new nn.Dropout(1))).toBe("AUTOGRAD_BAD_ARGUMENT");
    expect(codeOf(() => new nn.Linear(4, 2).forward(new Var(new Tensor(new Float32Array(3), [1, 3]))))).toBe("AUTOGRAD_SHAPE_MISMATCH");
  });
});

describe("initializers", () => {
  const big = (): Var => param(new Tensor(new Float32Array(256 * 256), [256, 256]));
  const stats = (v: Var): { mean: number; std: number; maxAbs: number } => {
    const d = Array.from(v.data);
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    const std = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / d.length);
    return { mean, std, maxAbs: Math.max(...d.map(Math.abs)) };
  };
  it("normal(0, 0.02): sample mean and std within 1% of the target", () => {
    const s = stats(nn.init.normal(big(), 0.02, new Rng(1)));
    expect(Math.abs(s.mean)).toBeLessThan(2e-4);
    expect(Math.abs(s.std - 0.02)).toBeLessThan(2e-4);
  });
  it("xavierUniform bound √(6/(in+out)); kaimingNormal std √2/√in; kaimingUniform bound √2·√(3/in)", () => {
    expect(stats(nn.init.xavierUniform(big(), new Rng(2))).maxAbs).toBeLessThanOrEqual(Math.sqrt(6 / 512));
    expect(stats(nn.init.xavierUniform(big(), new Rng(2))).maxAbs).toBeGreaterThan(0.99 * Math.sqrt(6 / 512));
    expect(Math.abs(stats(nn.init.kaimingNormal(big(), new Rng(3))).std - Math.SQRT2 / 16)).toBeLessThan(1e-3);
    expect(Math.abs(stats(nn.init.xavierNormal(big(), new Rng(3))).std - Math.sqrt(2 / 512))).toBeLessThan(1e-3);
    expect(stats(nn.init.kaimingUniform(big(), new Rng(3))).maxAbs).toBeLessThanOrEqual(Math.SQRT2 * Math.sqrt(3 / 256));
  });
  it("fan-based schemes refuse a tensor with fewer than 2 axes (a bias has no fan-in), as torch.nn.init", () => {
    const bias = new Var(new Tensor(new Float32Array(8), [8]), { requiresGrad: true });
    for (const scheme of [nn.init.xavierUniform, nn.init.xavierNormal, nn.init.kaimingUniform, nn.init.kaimingNormal]) {
      expect(() => scheme(bias, new Rng(1))).toThrow(/at least 2 axes \[out, in, \.\.\.\], found shape \[8\]/);
    }
  });
  it("the same seed gives the same weights; zeros and ones", () => {
    const a = nn.init.normal(big(), 0.02, new Rng(5)).data, b = nn.init.normal(big(), 0.02, new Rng(5)).data;
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(stats(nn.init.zeros(big())).maxAbs).toBe(0);
    expect(stats(nn.init.ones(big())).mean).toBe(1);
  });
  it("a module's parameters can be re-initialised GPT-2 style", () => {
    const lin = new nn.Linear(8, 8);
    nn.init.normal(lin.weight, 0.02, new Rng(1));
    nn.init.zeros(lin.bias!);
    expect(F.sum(lin.bias!).item()).toBe(0);
  });
});
