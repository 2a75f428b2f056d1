// LoRA adapters per request: "model": "default+NAME" runs the request with that adapter, loaded
// once; sequences of the base and of different adapters decode in one batch, each exactly as its
// own model alone (token for token against the transformer's generate() on a LoraModel carrying
// that adapter); prefix-cache entries never cross from one set of weights to another.
import { LoraAdapter, LoraModel, type LoraConfig } from "@zero-llm/lora";
import { Sampler } from "@zero-llm/sampling";
import { Rng } from "@zero-llm/tensor";
import { generate, type Config, type Model } from "@zero-llm/transformer";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine, createServer, loadServedModel, withAdapters, type SequenceResult, type ServedModel, type TokenChooser, type ZllmServer } from "../src/index";
import { DEFAULT_MODEL, haveDefaultModel, openModel } from "./helpers";

type Opened = Awaited<ReturnType<typeof openModel>>;

/** An adapter whose B is random too (a fresh one has B = 0 and changes nothing). */
function randomAdapter(config: Config, lora: Partial<LoraConfig>, seed: number): LoraAdapter {
  const adapter = LoraAdapter.create(config, lora, { seed });
  const g = new Rng(seed + 1000);
  for (const m of adapter.modules.values()) for (let i = 0; i < m.b.length; i++) m.b[i] = 0.08 * g.normal();
  return adapter;
}

const greedy = (): TokenChooser => {
  const sampler = new Sampler({ temperature: 0 });
  return { choose: (logits, tokens) => sampler.sample(logits, tokens) };
};

const PROMPTS = [
  [2047, 332, 502, 1153, 558, 286, 1000, 44],
  [2047, 12, 99, 400],
  [2047, 7, 1500, 3],
];
const MAX_TOKENS = 16;

describe.skipIf(!haveDefaultModel)("adapters per request", () => {
  let opened: Opened;
  let served: ServedModel;
  let adapters: Record<"poems" | "math", LoraAdapter>;
  /** What each variant gives alone: generate() on the base, or on a LoraModel with the adapter. */
  let reference: Record<"base" | "poems" | "math", number[][]>;

  beforeAll(async () => {
    opened = await openModel("wasm");
    const base = opened.served.model;
    adapters = {
      poems: randomAdapter(base.config, { r: 4, alpha: 8, targetModules: ["q_proj", "v_proj", "down_proj"] }, 5),
      math: randomAdapter(base.config, { r: 8, alpha: 8 }, 9),
    };
    served = withAdapters(opened.served, [
      { name: "poems", adapter: adapters.poems, source: "test/poems" },
      { name: "math", adapter: adapters.math, scale: 0.5 },
    ]);
    const alone = (model: Model): number[][] => PROMPTS.map((p) => [...generate(model, p, { maxTokens: MAX_TOKENS })]);
    reference = {
      base: alone(base),
      poems: alone(new LoraModel(base, [{ adapter: adapters.poems }])),
      math: alone(new LoraModel(base, [{ adapter: adapters.math, scale: 0.5 }])),
    };
  });
  afterAll(async () => {
    await opened?.dispose();
  });

  it("each adapter changes the output (so the checks below can fail)", () => {
    expect(reference.poems).not.toEqual(reference.base);
    expect(reference.math).not.toEqual(reference.base);
    expect(reference.math).not.toEqual(reference.poems);
  });

  it("base and adapted sequences in one batch: each exactly its own model alone; prefixes stay within their weights", async () => {
    const engine = new Engine(served.model, { parallel: 16 });
    const variants = ["base", "poems", "math"] as const;
    const runOnce = (): Promise<Array<{ variant: (typeof variants)[number]; p: number; tokens: number[]; result: SequenceResult }>> =>
      Promise.all(
        variants.flatMap((variant) =>
          PROMPTS.map(
            (prompt, p) =>
              new Promise<{ variant: (typeof variants)[number]; p: number; tokens: number[]; result: SequenceResult }>((resolve) => {
                const tokens: number[] = [];
                const weights = variant === "base" ? undefined : served.adapters?.get(variant)?.weights;
                engine.submit(
                  { prompt, maxTokens: MAX_TOKENS, chooser: greedy(), ...(weights ? { weights } : {}) },
                  { token: (id) => tokens.push(id), finished: (result) => resolve({ variant, p, tokens, result }) },
                );
              }),
          ),
        ),
      );
    const first = await runOnce();
    for (const r of first) expect(r.tokens, `${r.variant}, prompt ${r.p}`).toEqual(reference[r.variant][r.p]);
    // again: every prompt is now in the prefix cache under each of the three weights; a sequence
    // may only reuse its own weights' entries, and its tokens stay the same
    const second = await runOnce();
    for (const r of second) {
      expect(r.tokens, `${r.variant}, prompt ${r.p}, from the prefix cache`).toEqual(reference[r.variant][r.p]);
      expect(r.result.cachedTokens).toBe(PROMPTS[r.p].length - 1);
    }
  });

  it("a prompt cached under the base is recomputed under an adapter", async () => {
    const engine = new Engine(served.model, { parallel: 4 });
    const run = (weights: ServedModel["adapters"] extends ReadonlyMap<string, infer A> | undefined ? A | undefined : never): Promise<[number[], SequenceResult]> =>
      new Promise((resolve) => {
        const tokens: number[] = [];
        engine.submit(
          { prompt: PROMPTS[0], maxTokens: MAX_TOKENS, chooser: greedy(), ...(weights ? { weights: weights.weights } : {}) },
          { token: (id) => tokens.push(id), finished: (r) => resolve([tokens, r]) },
        );
      });
    const [baseTokens] = await run(undefined);
    expect(baseTokens).toEqual(reference.base[0]);
    const [poemTokens, result] = await run(served.adapters?.get("poems"));
    expect(result.cachedTokens).toBe(0);
    expect(poemTokens).toEqual(reference.poems[0]);
  });

  it("over HTTP: /v1/models lists base+adapter, requests pick it, the response names it, unknown adapters are 404s", async () => {
    const server: ZllmServer = createServer({ models: [served] });
    const url = await server.listen(0);
    try {
      const listed = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string; parent?: string; context_length: number; meta: { lora?: Record<string, unknown> } }> };
      expect(listed.data.map((m) => m.id)).toEqual(["default", "default+poems", "default+math"]);
      expect(listed.data[1]).toMatchObject({ parent: "default", context_length: listed.data[0].context_length });
      expect(listed.data[1].meta.lora).toMatchObject({ name: "poems", source: "test/poems", scale: 1, rank: 4, modules: 3 * 4 });
      expect(listed.data[2].meta.lora).toMatchObject({ name: "math", scale: 0.5, rank: 8 });
      expect(listed.data[0].meta.lora).toBeUndefined();
      const one = (await (await fetch(`${url}/v1/models/default+math`)).json()) as { id: string };
      expect(one.id).toBe("default+math");

      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused" });
      const prompt = served.tokenizer.decode(PROMPTS[1].slice(1));
      const texts = await Promise.all(
        (["default", "default+poems", "default+math"] as const).map((model) => client.completions.create({ model, prompt, max_tokens: MAX_TOKENS, temperature: 0 })),
      );
      expect(texts.map((t) => t.model)).toEqual(["default", "default+poems", "default+math"]);
      const decoded = (tokens: number[]): string => served.tokenizer.decode(tokens);
      // the server's prompt for this text is PROMPTS[1] (bos + the same ids): the same tokens as alone
      expect(served.tokenizer.encode(prompt)).toEqual(PROMPTS[1].slice(1));
      expect(texts.map((t) => t.choices[0].text)).toEqual([decoded(reference.base[1]), decoded(reference.poems[1]), decoded(reference.math[1])]);

      const unknown = await fetch(`${url}/v1/completions`, { method: "POST", body: JSON.stringify({ model: "default+nope", prompt: "x" }) });
      expect(unknown.status).toBe(404);
      expect(((await unknown.json()) as { error: { message: string } }).error.message).toMatch(/'default\+nope' does not exist: .*'default', 'default\+poems', 'default\+math'/);
    } finally {
      await server.close(1000);
    }
  });

  it("refuses an adapter made for another model, and duplicate or malformed names", async () => {
    const other = { ...opened.served.model.config, dim: 64, hiddenDim: 128, nHeads: 2, nKvHeads: 1 };
    expect(() => withAdapters(opened.served, [{ name: "x", adapter: randomAdapter(other, { r: 2 }, 1) }])).toThrow(/adapter x: expected an adapter for model default/);
    expect(() => withAdapters(opened.served, [{ name: "a", adapter: adapters.poems }, { name: "a", adapter: adapters.math }])).toThrow(/"a" twice/);
    expect(() => withAdapters(opened.served, [{ name: "a+b", adapter: adapters.poems }])).toThrow(/found "a\+b"/);
  });

  it("the KV cache types the model was loaded with apply to adapted sequences too", async () => {
    const quantized = await loadServedModel(DEFAULT_MODEL, { backend: opened.backend, id: "default", cacheTypes: { kType: "q8_0", vType: "f16" } });
    const adapted = withAdapters(quantized, [{ name: "poems", adapter: adapters.poems }]);
    const cache = adapted.model.newCache({ capacity: 8 });
    expect([cache.layers[0].k.dtype, cache.layers[0].v.dtype]).toEqual(["q8_0", "f16"]);
  });
});
