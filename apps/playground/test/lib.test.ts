// The playground's own logic, in Node: the expression parser and its errors, the SSE parser over
// arbitrary chunk boundaries, the graph layout, the KV formula against real caches of every type, the
// growth-exponent fit, speculative rounds recorded from the drafter's side, the LoRA page's ΔW, held-out
// sums and answer probabilities.
import { Value, toGraphJson } from "@zero-llm/autograd";
import { describe, expect, it } from "vitest";
import { expressionNames, nudge, parseExpression } from "../src/lib/expression";
import { layoutGraph } from "../src/lib/graph-layout";
import { kvFormulaBytes, realKvBytes } from "../src/lib/kv";
import { SseParser } from "../src/lib/sse";
import { RecordingDrafter, acceptedCount, modelDrafter } from "../src/lib/speculative";
import { readFileSync } from "node:fs";
import path from "node:path";
import { PromptLookupDrafter, Sampler } from "@zero-llm/sampling";
import { fromTokenizerJson } from "@zero-llm/tokenizer-bpe";
import { Model, generate, quantizeWeights } from "@zero-llm/transformer";
import { loadModel } from "@zero-llm/transformer/node";
import { modelDir } from "./helpers/browser";
import { LoraAdapter, mergedWeights, weightDeltas } from "@zero-llm/lora";
import { Rng } from "@zero-llm/tensor";
import { answerLogProbability, deltaWeight, expectedAnswer, frobenius, heldOutPairs, softmax } from "../src/lib/lora";
import { growthExponent } from "../src/pages/attention";

describe("expression", () => {
  it("builds the graph the engine would build by hand, with shared leaves", () => {
    const { root, inputs } = parseExpression("a*b + a - c/2 ^ 2 + tanh(-a)", { a: 1.5, b: -2, c: 3 });
    const a = new Value(1.5), b = new Value(-2), c = new Value(3);
    const byHand = a.mul(b).add(a).sub(c.div(new Value(2).pow(2))).add(a.neg().tanh());
    root.backward();
    byHand.backward();
    expect(root.data).toBe(byHand.data);
    expect(inputs.get("a")!.grad).toBe(a.grad); // a used three times: the three paths add up
    expect(inputs.get("c")!.grad).toBe(c.grad);
    expect([...inputs.keys()]).toEqual(["a", "b", "c"]);
  });

  it("binds unary minus tighter than *, and ^ tighter than unary minus", () => {
    expect(parseExpression("-x^2", { x: 3 }).root.data).toBe(-9);
    expect(parseExpression("2*-x", { x: 3 }).root.data).toBe(-6);
    expect(parseExpression("x^-1", { x: 4 }).root.data).toBe(0.25);
  });

  it("refuses bad input with a typed error that says what was expected and found", () => {
    const fails = (text: string, values: Record<string, number> = { x: 1 }) => {
      try {
        parseExpression(text, values);
      } catch (e) {
        return `${(e as { code: string }).code}: ${(e as Error).message}`;
      }
      return "parsed";
    };
    expect(fails("x +")).toBe("EXPRESSION_SYNTAX: expression: expected a number, a name or \"(\", found the end of the expression");
    expect(fails("x $ 2")).toMatch(/^EXPRESSION_SYNTAX: .*character 3, found "\$"/);
    expect(fails("(x + 1")).toBe("EXPRESSION_SYNTAX: expression: expected \")\", found the end of the expression");
    expect(fails("x ^ y", { x: 1, y: 2 })).toMatch(/^EXPRESSION_SYNTAX: expression: expected a constant exponent after "\^", found "y"/);
    expect(fails("x y")).toMatch(/^EXPRESSION_SYNTAX: expression: expected an operator or the end, found "y"/);
    expect(fails("w*x")).toBe("EXPRESSION_UNKNOWN_NAME: expression: expected a value for \"w\" (character 1); the inputs given are x");
    expect(fails("tanh + 1", { x: 1 })).toMatch(/tanh as a function needs "\("/);
  });

  it("names the inputs, not the functions", () => {
    expect(expressionNames("tanh(w1*x1 + b) + exp(w1)")).toEqual(["w1", "x1", "b"]);
  });

  it("nudge: the measured slope approaches the gradient as h shrinks", () => {
    const values = { x: 0.7 };
    const errors = [1e-2, 1e-4, 1e-6].map((h) => {
      const r = nudge("tanh(x)^3", values, "x", h);
      return Math.abs(r.slope - r.grad);
    });
    expect(errors[1]).toBeLessThan(errors[0] / 50);
    expect(errors[2]).toBeLessThan(1e-5);
    expect(() => nudge("x", values, "y", 1e-3)).toThrow(/expected one of the expression's inputs \(x\), found "y"/);
  });
});

describe("graph layout", () => {
  it("puts every node one column right of its deepest input, the output last", () => {
    const { root } = parseExpression("tanh(x1*w1 + x2*w2 + b)", { x1: 1, w1: 2, x2: 3, w2: 4, b: 5 });
    const graph = toGraphJson(root);
    const { placed, columns } = layoutGraph(graph);
    const col = new Map(placed.map((p) => [p.id, p.column]));
    for (const e of graph.edges) expect(col.get(e.to)!).toBeGreaterThan(col.get(e.from)!);
    expect(col.get(graph.root)).toBe(columns - 1);
    expect(graph.nodes.filter((n) => n.op === "leaf").every((n) => col.get(n.id) === 0)).toBe(true);
  });
});

describe("SSE", () => {
  const stream = 'data: {"a":1}\n\ndata: {"b":"é🙂"}\n\n: comment\n\ndata: [DONE]\n\n';

  it("gives the same events however the bytes are cut, even inside a character", () => {
    const bytes = new TextEncoder().encode(stream);
    for (let cut = 1; cut < bytes.length; cut++) {
      const p = new SseParser();
      const events = [...p.push(bytes.subarray(0, cut)), ...p.push(bytes.subarray(cut))];
      expect(events).toEqual([{ a: 1 }, { b: "é🙂" }]);
      expect(p.done).toBe(true);
    }
  });

  it("refuses an event that is not JSON, naming it", () => {
    expect(() => new SseParser().push(new TextEncoder().encode("data: {oops\n\n"))).toThrow(/expected a JSON event, found "\{oops"/);
  });
});

describe("KV calculator", () => {
  it("the formula equals bytes() of a real cache for assorted shapes", () => {
    for (const [layers, kvHeads, headDim, context] of [[1, 1, 2, 1], [4, 2, 32, 512], [6, 6, 48, 256], [3, 5, 10, 9]]) {
      for (const [kType, vType] of [["f32", "f32"], ["q8_0", "f16"], ["q4_0", "q4_1"], ["f16", "q8_0"]]) {
        const shape = { layers, kvHeads, headDim, context, kType, vType };
        expect(kvFormulaBytes(shape)).toBe(realKvBytes(shape));
      }
    }
    // q8_0 keys and values: 34 bytes per block of 32 numbers, the row of 3 × 48 = 144 numbers padded to 5 blocks
    expect(kvFormulaBytes({ layers: 2, kvHeads: 3, headDim: 48, context: 10, kType: "q8_0", vType: "q8_0" })).toBe(2 * 10 * 2 * 5 * 34);
  });

  it("a shape no model can have (an odd head size: RoPE rotates pairs) is the transformer's typed error", () => {
    expect(() => realKvBytes({ layers: 1, kvHeads: 1, headDim: 7, context: 4, kType: "f32", vType: "f32" })).toThrow(/expected an even headDim for RoPE, found 7/);
  });
});

describe("growth exponent", () => {
  it("recovers the power of an exact power law", () => {
    expect(growthExponent([64, 128, 256, 512].map((n) => [n, 3e-6 * n ** 2] as const))).toBeCloseTo(2, 10);
    expect(growthExponent([64, 128, 256].map((n) => [n, 0.1 * n] as const))).toBeCloseTo(1, 10);
  });
});

describe("speculative rounds, recorded from the drafter's side", () => {
  it("add up to generate's own stats, and the output is plain greedy decoding's (prompt lookup and a Q4_0 draft model)", async () => {
    const model = await loadModel(modelDir);
    const tokenizer = fromTokenizerJson(readFileSync(path.join(modelDir, "tokenizer.json"), "utf8"));
    const ids = [2047, ...tokenizer.encode("The jury said that the city had been paid. The jury said that the city")];
    const plain = [...generate(model, ids, { maxTokens: 24, eos: 2047 })];
    const draft = new Model(model.config, quantizeWeights(model.weights, "q4_0", model.backend), { backend: model.backend });
    for (const inner of [new PromptLookupDrafter(3), modelDrafter(draft, model, new Sampler({ temperature: 0 }))]) {
      const recording = new RecordingDrafter(inner);
      const run = generate(model, ids, { maxTokens: 24, eos: 2047, sampler: new Sampler({ temperature: 0 }), draft: recording, draftMax: 6 });
      const out: number[] = [];
      for (const id of run) {
        out.push(id);
        recording.emitted(id);
      }
      expect(out).toEqual(plain);
      expect(recording.rounds.length).toBe(run.stats.targetPasses);
      expect(recording.rounds.reduce((n, r) => n + r.drafts.length, 0)).toBe(run.stats.draftTokens);
      expect(recording.rounds.reduce((n, r) => n + acceptedCount(r), 0)).toBe(run.stats.acceptedDraftTokens);
      expect(run.stats.acceptedDraftTokens).toBeGreaterThan(0);
      // every round but the last emits its accepted drafts and one token of the target's own
      for (const r of recording.rounds.slice(0, -1)) expect(r.emitted.length).toBe(acceptedCount(r) + 1);
    }
  });
});

describe("LoRA page logic", () => {
  it("the held-out sums are the recipe's split: distinct pairs of 10…99, the first of a seeded shuffle", () => {
    const pairs = heldOutPairs(810);
    expect(pairs).toHaveLength(810);
    expect(new Set(pairs.map(([a, b]) => 100 * a + b)).size).toBe(810);
    for (const [a, b] of pairs) expect(Math.min(a, b) >= 10 && Math.max(a, b) <= 99).toBe(true);
    expect(heldOutPairs(5)).toEqual(pairs.slice(0, 5));
    expect(heldOutPairs(10_000)).toHaveLength(810);
  });

  it("the expected answer follows the template, with or without its leading space", () => {
    expect(expectedAnswer("Q: 23 + 48 = ? A:")).toBe(" 71");
    expect(expectedAnswer("Q: 23 + 48 = ? A: ")).toBe("71");
    expect(expectedAnswer("The jury said")).toBeNull();
  });

  it("ΔW = (α/r)·B·A by tensor matmul equals what mergedWeights adds; the answer's log-probability equals step-by-step decoding's", async () => {
    const model = await loadModel(modelDir);
    const adapter = LoraAdapter.create(model.config, { targetModules: ["v_proj", "down_proj"], r: 4, alpha: 8 }, { seed: 3 });
    const g = new Rng(5);
    for (const m of adapter.modules.values()) for (let i = 0; i < m.b.length; i++) m.b[i] = 0.05 * g.normal(); // B = 0 at creation
    const merged = mergedWeights(model, [{ adapter }]);
    for (const d of weightDeltas(model.config, adapter)) {
      const delta = deltaWeight(d).data, w = model.weights.get(d.weight).data, after = merged.get(d.weight).data;
      expect(d.scaling).toBe(2);
      let diff = 0;
      for (let i = 0; i < w.length; i++) diff = Math.max(diff, Math.abs(after[i] - w[i] - delta[i]));
      expect(diff).toBeLessThan(1e-6);
      expect(frobenius(delta)).toBeGreaterThan(0);
    }
    const tokenizer = fromTokenizerJson(readFileSync(path.join(modelDir, "tokenizer.json"), "utf8"));
    const prompt = [2047, ...tokenizer.encode("Q: 23 + 48 = ? A:")], reply = tokenizer.encode(" 71");
    const cache = model.newCache();
    let logits = model.prefill(prompt, cache).logits, expected = 0;
    for (const id of reply) {
      expected += Math.log(softmax(logits)[id]);
      logits = model.decode(id, cache);
    }
    expect(answerLogProbability(model, prompt, reply)).toBeCloseTo(expected, 4);
  });
});
