/// <reference lib="webworker" />
import { adapterFromPeft, mergedWeights, weightDeltas, withAdapters, type LoraAdapter, type LoraModel, type WeightDelta } from "@zero-llm/lora";
import { workerBackend } from "../lib/backend";
import { fetchBytes, fetchText } from "../lib/fetch";
import { ADAPTER_DIR, answer, answerLogProbability, deltaWeight, expectedAnswer, frobenius, heldOutPairs, klDivergence, question, softmax } from "../lib/lora";
import { PlaygroundError } from "../lib/errors";
import { loadEmbeddedModel, type LoadedModel } from "../lib/model";
import { serve } from "../lib/rpc";
import type { KVCache, Model } from "@zero-llm/transformer";
import type { AdapterFiles, LoraProtocol, TokenMove } from "./lora-protocol";

interface Loaded {
  lm: LoadedModel;
  adapter: LoraAdapter;
  /** Where the adapter came from (the shipped directory, or the files dropped on the page). */
  source: string;
  deltas: WeightDelta[];
  backend: string;
  ms: number;
}

let base: Promise<{ lm: LoadedModel; backend: string; ms: number }> | null = null;
let current: Loaded | null = null;

/**
 * The embedded model (once), with an adapter: the shipped one (a PEFT directory's two files served
 * beside the app), or the two files of one dropped on the page. Each load replaces the adapter.
 */
async function loadAdapter(files: AdapterFiles | null): Promise<Loaded> {
  const started = performance.now();
  base ??= (async () => {
    const { backend, label } = await workerBackend();
    return { lm: await loadEmbeddedModel(backend), backend: label, ms: performance.now() - started };
  })();
  const { lm, backend, ms } = await base;
  const { configText, safetensors, source } = files ?? {
    configText: await fetchText(`${ADAPTER_DIR}/adapter_config.json`),
    safetensors: await fetchBytes(`${ADAPTER_DIR}/adapter_model.safetensors`),
    source: ADAPTER_DIR,
  };
  // a PEFT adapter directory's two files, read as zllm --lora reads them
  const adapter = adapterFromPeft(configText, safetensors);
  const deltas = weightDeltas(lm.model.config, adapter); // checks the adapter against the model (BASE_MISMATCH otherwise)
  byScale.clear();
  merged = null;
  current = { lm, adapter, source, deltas, backend, ms: ms + performance.now() - started };
  return current;
}

function model(): Loaded {
  if (!current) throw new PlaygroundError("BAD_INPUT", "lora: expected an adapter loaded first (call load), found none");
  return current;
}

/**
 * The base with the adapter at a scale: a LoraModel over the base's own arrays (every adaptable
 * matrix wrapped: W·x + scale·(α/r)·B·(A·x)), one per scale asked for (it copies A and B into the
 * backend's memory once).
 */
const byScale = new Map<number, LoraModel>();
function adapted(m: Loaded, scale: number): LoraModel {
  let lora = byScale.get(scale);
  if (!lora) {
    lora = withAdapters(m.lm.model, [{ adapter: m.adapter, scale }]);
    byScale.set(scale, lora);
  }
  return lora;
}

/** The merged weights at scale 1 (made once per adapter, for the merge check). */
let merged: ReturnType<typeof mergedWeights> | null = null;

/**
 * One KV cache for every pass of the page, emptied before each (the base and its LoraModels share
 * a config, and a cache with no adapter set runs the model's own): a new cache per question
 * would pile up in the wasm memory until a garbage collection.
 */
let scratch: KVCache | null = null;
function cache(m: Loaded): KVCache {
  scratch ??= m.lm.model.newCache();
  scratch.reset();
  return scratch;
}

const nextTokenProbabilities = (m: Loaded, model: Model, ids: number[]) => softmax(model.prefill(ids, cache(m)).logits);
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

serve<LoraProtocol>({
  async load({ files }) {
    const m = await loadAdapter(files);
    const { config } = m.adapter;
    const first = m.deltas[0];
    return {
      source: m.source, backend: m.backend, ms: m.ms, r: config.r, alpha: config.alpha,
      targets: typeof config.targetModules === "string" ? config.targetModules : config.targetModules.join(", "),
      scaling: first ? first.scaling : config.alpha / config.r, rsLora: config.useRslora,
      parameters: m.adapter.parameterCount(), baseParameters: m.lm.model.weights.parameterCount(), baseModel: m.adapter.baseModel,
      weights: m.deltas.map((d) => ({ weight: d.weight, rows: d.outFeatures, cols: d.inFeatures, rank: d.rank })),
    };
  },

  async layer({ weight }) {
    const m = model();
    const d = m.deltas.find((x) => x.weight === weight);
    if (!d) throw new PlaygroundError("BAD_INPUT", `lora: expected one of the adapted weights (${m.deltas.map((x) => x.weight).join(", ")}), found ${weight}`);
    const w = Float32Array.from(m.lm.model.weights.get(weight).data);
    const delta = Float32Array.from(deltaWeight(d).data);
    merged ??= mergedWeights(m.lm.model, [{ adapter: m.adapter, scale: 1 }]);
    const after = merged.get(weight).data;
    let mergeDiff = 0;
    for (let i = 0; i < w.length; i++) mergeDiff = Math.max(mergeDiff, Math.abs(after[i] - w[i] - delta[i]));
    return {
      weight, rows: d.outFeatures, cols: d.inFeatures, rank: d.rank, scaling: d.scaling,
      w, a: Float32Array.from(d.a), b: Float32Array.from(d.b), delta, normW: frobenius(w), normDelta: frobenius(delta), mergeDiff,
    };
  },

  async distribution({ prompt, scale }) {
    const m = model();
    const { lm } = m;
    const ids = lm.encode(prompt);
    const base = nextTokenProbabilities(m, lm.model, ids);
    const withAdapter = nextTokenProbabilities(m, adapted(m, scale), ids);
    const top = (p: Float64Array) => Array.from(p.keys()).sort((a, b) => p[b] - p[a]).slice(0, 8);
    const ids8 = [...new Set([...top(withAdapter), ...top(base)])];
    const tokens: TokenMove[] = ids8.map((id) => ({ id, piece: lm.tokenizer.decode([id]), base: base[id], adapted: withAdapter[id] }))
      .sort((a, b) => b.adapted - a.adapted || b.base - a.base);
    return {
      tokens, kl: klDivergence(base, withAdapter), expected: expectedAnswer(prompt),
      answerBase: answer(lm.model, lm.tokenizer, lm.bos, lm.eos, prompt, cache(m)),
      answerAdapted: answer(adapted(m, scale), lm.tokenizer, lm.bos, lm.eos, prompt, cache(m)),
    };
  },

  async sweep({ scales, pairs }, emit) {
    const m = model();
    const { lm } = m;
    const started = performance.now();
    const list = heldOutPairs(pairs);
    const points = [];
    for (const scale of scales) {
      const scaled = scale === 0 ? lm.model : adapted(m, scale);
      let right = 0, probability = 0;
      for (const [a, b] of list) {
        const prompt = question(a, b);
        if (answer(scaled, lm.tokenizer, lm.bos, lm.eos, prompt, cache(m)) === ` ${a + b}`) right++;
        probability += Math.exp(answerLogProbability(scaled, lm.encode(prompt), lm.tokenizer.encode(` ${a + b}`), cache(m)));
      }
      const point = { scale, accuracy: right / list.length, correctProbability: probability / list.length };
      points.push(point);
      emit(point);
      await tick();
    }
    return { points, ms: performance.now() - started };
  },
});
