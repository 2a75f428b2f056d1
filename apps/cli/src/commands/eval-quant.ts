import { DistributionComparison } from "@zero-llm/quant";
import type { Backend } from "@zero-llm/tensor";
import { Model, Weights, quantizeWeights, scoringWindows } from "@zero-llm/transformer";
import { UsageError, defineCommand, type CommandIO, type FlagTable, type ParsedArgs } from "../command";
import { EVAL_DATA_FLAGS, evalDataName, evalTokens, readEvalData } from "./eval-data";
import { MODEL_FLAGS, TOKENIZER_FLAG, cacheTypesOf, modelPath, openModel, openTokenizer } from "./model-io";

/**
 * `zllm eval quant --model F --type T [--cache-type-k T] [--cache-type-v T] --data TEXT [--json]`
 * (llama.cpp's `perplexity --kl-divergence`, in one run): the model in f32 (the base) and the
 * same model quantized in memory to --type (as `zllm quantize` writes it and the loader keeps it),
 * its KV cache in the --cache-type-k/v types, both read the held-out text in the same windows as
 * `eval ppl`; at every position the next-token distributions are compared: perplexity of each,
 * mean and 99th-percentile KL(P_base ‖ P) in nats, top-1 agreement, and the weights' RMSE per
 * tensor kind. `--type f32` keeps the weights and measures the KV cache types alone.
 */

const TYPES = ["f32", "f16", "q8_0", "q4_0", "q4_1", "q4_k"] as const;

const FLAGS = {
  ...MODEL_FLAGS,
  ...TOKENIZER_FLAG,
  type: { type: "string", description: "weight type to quantize to in memory: q8_0, q4_0, q4_1, q4_k, f16, or f32 (weights unchanged: the KV cache types alone)", choices: TYPES },
  ...EVAL_DATA_FLAGS,
  "seq-len": { type: "number", description: "window length, at most the model's context (default: the model's context)", integer: true, min: 2 },
  json: { type: "boolean", description: "print one JSON object" },
} as const satisfies FlagTable;

/** GGUF's name for the kind of a weight (our Hugging Face name), for the RMSE table. */
function tensorKind(name: string): string {
  if (name === "model.embed_tokens.weight") return "token_embd";
  if (name === "lm_head.weight") return "output";
  const m = /\.(self_attn|mlp)\.(q|k|v|o|gate|up|down)_proj\.weight$/.exec(name);
  if (!m) return name;
  return { q: "attn_q", k: "attn_k", v: "attn_v", o: "attn_output", gate: "ffn_gate", up: "ffn_up", down: "ffn_down" }[m[2] as "q"];
}

interface KindError {
  type: string;
  sumSquaredError: number;
  sumSquares: number;
  count: number;
}

/** Σ(w − ŵ)², Σw² and the count per tensor kind, over every matrix stored in another type than f32. */
function weightErrors(base: Weights, quantized: Weights): Map<string, KindError> {
  const kinds = new Map<string, KindError>();
  const decoded = quantized.expanded();
  for (const name of quantized.names()) {
    const type = quantized.typeOf(name);
    if (type === "f32" || (name === "lm_head.weight" && quantized.linear(name) === quantized.linear("model.embed_tokens.weight"))) continue;
    const a = base.get(name).data, b = decoded.get(name).data;
    const kind = kinds.get(tensorKind(name)) ?? { type, sumSquaredError: 0, sumSquares: 0, count: 0 };
    for (let i = 0; i < a.length; i++) {
      const e = a[i] - b[i];
      kind.sumSquaredError += e * e;
      kind.sumSquares += a[i] * a[i];
    }
    kind.count += a.length;
    if (kind.type !== type) kind.type = `${kind.type}+${type}`;
    kinds.set(tensorKind(name), kind);
  }
  return kinds;
}

/** The weights as f32 in backend memory (a quantized source decoded once: the base it is compared with). */
function f32Weights(weights: Weights, backend: Backend): Weights {
  if (weights.names().every((name) => weights.typeOf(name) === "f32")) return weights;
  const values = weights.expanded();
  const out = new Weights();
  const copies = new Map<Float32Array, Float32Array>();
  for (const name of values.names()) {
    const { shape, data } = values.get(name);
    let copy = copies.get(data);
    if (!copy) {
      copy = backend.allocF32(data.length);
      copy.set(data);
      copies.set(data, copy);
    }
    out.set(name, shape, copy);
  }
  return out;
}

async function run(args: ParsedArgs<typeof FLAGS>, io: CommandIO): Promise<number> {
  const { type } = args.flags;
  if (type === undefined) throw new UsageError(`--type is required: one of ${TYPES.join(", ")}`);
  const data = await readEvalData(args.flags);
  const file = modelPath(args);
  // the file as the loader keeps it; the caches are chosen per model below
  const opened = await openModel({ ...args.flags, "cache-type-k": undefined, "cache-type-v": undefined });
  try {
    const { model: loaded } = opened.checkpoint;
    const { config } = loaded;
    const seqLen = args.flags["seq-len"] ?? config.seqLen;
    if (seqLen > config.seqLen) throw new UsageError(`--seq-len: expected at most ${config.seqLen} (the model's context), found ${seqLen}`);
    const codec = await openTokenizer(opened.checkpoint, args.flags.tokenizer);
    const tokens = await evalTokens(data, codec, args.flags["max-tokens"]);

    const t0 = performance.now();
    const { backend } = opened;
    const baseWeights = f32Weights(loaded.weights, backend);
    const cacheTypes = cacheTypesOf(args.flags);
    const base = new Model(config, baseWeights, { backend, maxBatchRows: loaded.maxBatchRows });
    const quantizedWeights = type === "f32" ? baseWeights : quantizeWeights(baseWeights, type, backend);
    const quantized = new Model(config, quantizedWeights, { backend, maxBatchRows: loaded.maxBatchRows, cacheTypes });

    const vocab = config.vocabSize;
    const baseLogits = new Float32Array(seqLen * vocab), logits = new Float32Array(seqLen * vocab);
    const baseCache = base.newCache({ capacity: seqLen }), cache = quantized.newCache({ capacity: seqLen });
    const comparison = new DistributionComparison(vocab);
    for (const { start, length } of scoringWindows(tokens.length, seqLen)) {
      const input = tokens.slice(start, start + length);
      baseCache.reset();
      cache.reset();
      base.prefill(input, baseCache, { allLogits: baseLogits });
      quantized.prefill(input, cache, { allLogits: logits });
      for (let i = 0; i < length; i++) comparison.add(baseLogits, logits, tokens[start + i + 1] ?? 0, i * vocab, i * vocab);
    }
    const s = comparison.summary();
    const errors = weightErrors(baseWeights, quantizedWeights);
    const seconds = (performance.now() - t0) / 1000;
    const weightRmse = Object.fromEntries(
      [...errors].map(([kind, e]) => [kind, { type: e.type, rmse: Math.sqrt(e.sumSquaredError / e.count), relative_rmse: Math.sqrt(e.sumSquaredError / e.sumSquares) }]),
    );
    const result = {
      model: file, data: evalDataName(data), type, cache_type_k: cacheTypes.kType, cache_type_v: cacheTypes.vType, tokens: s.positions,
      perplexity_base: s.perplexityBase, perplexity: s.perplexity, perplexity_change: s.perplexity / s.perplexityBase - 1,
      kld_mean: s.kldMean, kld_p99: s.kldP99, kld_max: s.kldMax, top1_agreement: s.top1Agreement,
      weight_bytes_base: baseWeights.bytes(), weight_bytes: quantizedWeights.bytes(),
      kv_bytes_base: baseCache.bytes(), kv_bytes: cache.bytes(),
      weight_rmse: weightRmse, seconds,
    };
    if (args.flags.json) {
      io.stdout.write(`${JSON.stringify(result)}\n`);
      return 0;
    }
    const pct = (x: number): string => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(3)}%`;
    io.stdout.write(
      `weights ${type} (${(result.weight_bytes / 1e6).toFixed(2)} MB, f32 ${(result.weight_bytes_base / 1e6).toFixed(2)} MB), KV cache K ${cacheTypes.kType} V ${cacheTypes.vType} ` +
        `(${(result.kv_bytes / 1e6).toFixed(2)} MB, f32 ${(result.kv_bytes_base / 1e6).toFixed(2)} MB), ${s.positions} positions\n` +
        `perplexity ${s.perplexity.toFixed(4)} vs f32 ${s.perplexityBase.toFixed(4)} (${pct(result.perplexity_change)})\n` +
        `KL divergence mean ${s.kldMean.toExponential(3)}, p99 ${s.kldP99.toExponential(3)}, max ${s.kldMax.toExponential(3)} nats\n` +
        `top-1 agreement ${(100 * s.top1Agreement).toFixed(2)}%\n`,
    );
    for (const [kind, e] of Object.entries(weightRmse)) {
      io.stdout.write(`  ${kind.padEnd(12)} ${e.type.padEnd(10)} rmse ${e.rmse.toExponential(3)} (relative ${(100 * e.relative_rmse).toFixed(2)}%)\n`);
    }
    io.stdout.write(`(${seconds.toFixed(1)} s)\n`);
    return 0;
  } finally {
    await opened.dispose();
  }
}

export const evalQuantCommand = defineCommand({
  path: ["eval", "quant"],
  summary: "What quantizing costs: perplexity, KL divergence and top-1 agreement of a quantized model (and KV cache) against f32",
  usage: "eval quant [--model M] --type q8_0|q4_0|q4_1|q4_k|f16|f32 [--cache-type-k T] [--cache-type-v T] (--data FILE | --brown [--val-fraction X]) [--seq-len N] [--max-tokens N] [--json]",
  flags: FLAGS,
  positionals: { min: 0, max: 0 },
  run,
});
