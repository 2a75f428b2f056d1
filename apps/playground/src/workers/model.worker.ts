/// <reference lib="webworker" />
import { PromptLookupDrafter, Sampler, compileConstraint, tokenVocabulary, type Constraint, type JsonSchema, type TokenVocabulary } from "@zero-llm/sampling";
import { Rng, attention, randn } from "@zero-llm/tensor";
import { Model, generate, quantizeWeights, type AttentionMaps } from "@zero-llm/transformer";
import { walkQuery } from "../lib/attention-walk";
import { workerBackend } from "../lib/backend";
import { chainView, samplerOptions } from "../lib/chain";
import { PlaygroundError } from "../lib/errors";
import { loadEmbeddedModel, type LoadedModel } from "../lib/model";
import { serve } from "../lib/rpc";
import { RecordingDrafter, acceptedCount, modelDrafter } from "../lib/speculative";
import type { ModelProtocol, Token } from "./model-protocol";

let loaded: Promise<{ lm: LoadedModel; backend: string; ms: number }> | null = null;
const model = () => {
  loaded ??= (async () => {
    const started = performance.now();
    const { backend, label } = await workerBackend();
    const lm = await loadEmbeddedModel(backend);
    return { lm, backend: label, ms: performance.now() - started };
  })();
  return loaded;
};

let vocabulary: TokenVocabulary | null = null;
const constraints = new Map<string, { constraint: Constraint; ms: number }>();

/** A JSON Schema from the page's text box, compiled once per text for the model's vocabulary. */
function schemaConstraint(lm: LoadedModel, text: string): { constraint: Constraint; ms: number } {
  const cached = constraints.get(text);
  if (cached) return cached;
  let schema: JsonSchema;
  try {
    schema = JSON.parse(text) as JsonSchema;
  } catch (error) {
    throw new PlaygroundError("BAD_INPUT", `JSON Schema: expected JSON, found a syntax error (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
  vocabulary ??= tokenVocabulary(lm.tokenizer, { eos: [lm.eos] });
  const started = performance.now();
  const entry = { constraint: compileConstraint({ type: "json", schema }, vocabulary), ms: performance.now() - started };
  constraints.set(text, entry);
  return entry;
}

/** The draft model: the embedded model with its matrices in Q4_0, as `zllm quantize` writes them (made once). */
let q4Draft: Model | null = null;
function draftModel(lm: LoadedModel): Model {
  q4Draft ??= new Model(lm.model.config, quantizeWeights(lm.model.weights, "q4_0", lm.model.backend), { backend: lm.model.backend });
  return q4Draft;
}

const piece = (lm: LoadedModel, id: number): Token => ({ id, piece: lm.tokenizer.decode([id]) });

/** The maps a prefill with captureAttention returns (always there when asked for). */
function captured(maps: AttentionMaps | undefined): AttentionMaps {
  if (!maps) throw new PlaygroundError("BAD_INPUT", "attention: expected the prefill to capture attention maps, found none");
  return maps;
}
const yieldToMessages = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

serve<ModelProtocol>({
  async load() {
    const { lm, backend, ms } = await model();
    const c = lm.model.config;
    return {
      backend, ms, parameters: lm.model.weights.parameterCount(),
      config: { dim: c.dim, nLayers: c.nLayers, nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.dim / c.nHeads, vocabSize: c.vocabSize, seqLen: c.seqLen },
    };
  },

  async attention({ prompt }) {
    const { lm } = await model();
    const ids = lm.encode(prompt);
    const started = performance.now();
    const { attention: maps } = lm.model.prefill(ids, lm.model.newCache(), { captureAttention: true });
    const ms = performance.now() - started;
    return { ids, pieces: ids.map((id) => lm.tokenizer.decode([id])), layers: captured(maps).layers.map((m) => Float32Array.from(m)), ms };
  },

  async walk({ prompt, layer, head, query }) {
    const { lm } = await model();
    const ids = lm.encode(prompt);
    if (query < 0 || query >= ids.length) throw new PlaygroundError("BAD_INPUT", `attention: expected a query position in 0…${ids.length - 1}, found ${query}`);
    const walk = walkQuery(lm.model, ids, layer, head, query);
    const { attention: maps } = lm.model.prefill(ids, lm.model.newCache(), { captureAttention: true });
    const n = ids.length, map = captured(maps).layers[layer];
    const modelProbs = Array.from(map.subarray((head * n + query) * n, (head * n + query + 1) * n));
    const maxDiff = Math.max(...modelProbs.map((p, j) => Math.abs(p - walk.probs[j])));
    return { ...walk, modelProbs, maxDiff };
  },

  async cost({ attentionLengths, prefillLengths }, emit) {
    const { lm } = await model();
    const c = lm.model.config, hd = c.dim / c.nHeads;
    const g = new Rng(7);
    const best = (runs: number, f: () => void) => {
      let min = Infinity;
      for (let r = 0; r < runs; r++) {
        const t = performance.now();
        f();
        min = Math.min(min, performance.now() - t);
      }
      return min;
    };
    for (const n of attentionLengths) {
      const q = randn([n, c.nHeads, hd], g), k = randn([n, c.nKvHeads, hd], g), v = randn([n, c.nKvHeads, hd], g);
      emit({ kind: "attention", n, ms: best(3, () => attention(q, k, v)) });
      await yieldToMessages();
    }
    for (const n of prefillLengths) {
      const ids = Array.from({ length: n }, () => g.int(c.vocabSize));
      const cache = lm.model.newCache();
      emit({ kind: "prefill", n, ms: best(2, () => { cache.reset(); lm.model.prefill(ids, cache); }) });
      await yieldToMessages();
    }
    return null;
  },

  async distribution({ prompt, settings, schema, watch }) {
    const { lm } = await model();
    const ids = lm.encode(prompt);
    const logits = Float32Array.from(lm.model.prefill(ids, lm.model.newCache()).logits);
    let allowed: Uint32Array | undefined;
    let allowedCount: number | null = null, compileMs: number | null = null;
    if (schema !== null) {
      const { constraint, ms } = schemaConstraint(lm, schema);
      allowed = constraint.createMask();
      allowedCount = constraint.mask(constraint.initialState(), allowed);
      compileMs = ms;
    }
    const view = chainView(logits, ids, settings, watch, allowed);
    return { ...view, pieces: view.watched.map((id) => lm.tokenizer.decode([id])), allowedCount, vocabSize: logits.length, compileMs };
  },

  async generate({ prompt, settings, seed, maxTokens, schema }, emit) {
    const { lm } = await model();
    const ids = lm.encode(prompt);
    const sampler = new Sampler(samplerOptions(settings, seed));
    let tokenSampler: { sample(logits: Float32Array, history: ArrayLike<number>): number } = sampler;
    let complete = () => false;
    if (schema !== null) {
      const { constraint } = schemaConstraint(lm, schema);
      const state = constraint.initialState(), mask = constraint.createMask();
      tokenSampler = {
        sample(logits, history) {
          constraint.mask(state, mask);
          const id = sampler.sample(logits, history, mask);
          constraint.accept(state, id);
          return id;
        },
      };
      complete = () => constraint.isComplete(state);
    }
    const run = generate(lm.model, ids, { maxTokens, sampler: tokenSampler, eos: lm.eos });
    const out: number[] = [];
    let stopReason: string = "maxTokens";
    for (const id of run) {
      out.push(id);
      emit(piece(lm, id));
      if (complete()) {
        stopReason = "grammar";
        break;
      }
      if (out.length % 8 === 0) await yieldToMessages();
    }
    if (stopReason !== "grammar") stopReason = run.stats.stopReason;
    return { ids: out, text: lm.tokenizer.decode(out), stopReason, tokensPerSecond: run.stats.generateTokensPerSecond };
  },

  async speculative({ prompt, maxTokens, drafter, draftMax, ngram, temperature, seed }) {
    const { lm } = await model();
    const ids = lm.encode(prompt);
    // the same request decoded plainly, one token per pass (greedy must give the very same tokens);
    // run first, so both timings are taken with warm code
    const plainStarted = performance.now();
    const plain = [...generate(lm.model, ids, { maxTokens, eos: lm.eos, sampler: new Sampler({ temperature, seed }) })];
    const plainMs = performance.now() - plainStarted;
    const sampler = new Sampler({ temperature, seed });
    const recording = new RecordingDrafter(drafter === "lookup" ? new PromptLookupDrafter(ngram) : modelDrafter(draftModel(lm), lm.model, sampler));
    const started = performance.now();
    // the transformer's own speculative path: one verify pass per round over the model's sequence
    const run = generate(lm.model, ids, { maxTokens, eos: lm.eos, sampler, draft: recording, draftMax });
    const out: number[] = [];
    for (const id of run) {
      out.push(id);
      recording.emitted(id);
    }
    const ms = performance.now() - started;
    const rounds = recording.rounds.map((r) => {
      const accepted = acceptedCount(r);
      const next = r.emitted[accepted]; // the correction (a draft was rejected) or the bonus token
      return { drafts: r.drafts.map((id) => piece(lm, id)), accepted, next: next === undefined ? null : piece(lm, next) };
    });
    return {
      rounds, ids: out, text: lm.tokenizer.decode(out), sameAsPlain: plain.length === out.length && plain.every((id, i) => id === out[i]),
      drafted: run.stats.draftTokens, acceptedTotal: run.stats.acceptedDraftTokens, passes: run.stats.targetPasses, ms, plainMs,
    };
  },
});
