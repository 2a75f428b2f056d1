import os from "node:os";
import path from "node:path";
import { BENCH_SHAPES, MAX_CONTEXT, Model, TransformerError, isBenchShape, randomWeights, type KVCache } from "@zero-llm/transformer";
import { openCheckpoint } from "@zero-llm/transformer/node";
import { UsageError, defineCommand, type CommandIO, type FlagTable, type ParsedArgs } from "../command";
import { LORA_FLAG, adaptedModel, describeAdapters } from "./lora-io";
import { CONTEXT_FLAG, MODEL_FLAGS, cacheTypesOf, chooseBackend } from "./model-io";

/**
 * `zllm bench --model FILE | --random 15M` measures, as llama.cpp's llama-bench does:
 *
 *   ppN  prompt processing: N tokens prefilled into an empty cache in one call, tokens/s
 *   tgN  text generation: N tokens decoded one by one from an empty cache, tokens/s
 *
 * Each test runs once to warm up, then --reps times; the table shows mean ± standard deviation
 * of the per-run rates. The tokens are fixed pseudo-random ids (no sampling in the timed loop).
 * --random builds random weights in a llama2.c shape in memory (15M: dim 288, 6 layers, 6
 * heads, vocab 32000; 110M: dim 768, 12 layers, 12 heads); speed does not depend on the values.
 */

export interface BenchResult {
  model: string;
  params: number;
  backend: string;
  threads: number;
  test: string;
  n_prompt: number;
  n_gen: number;
  /** KV cache element types (llama-bench's type_k / type_v). */
  type_k: string;
  type_v: string;
  avg_ts: number;
  stddev_ts: number;
  samples_ts: number[];
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const stddev = (xs: readonly number[]): number => {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
};

function tokensFor(n: number, vocabSize: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7919 + 13) % vocabSize);
}

/** One run of a test on an emptied cache: tokens per second. */
function once(model: Model, cache: KVCache, kind: "pp" | "tg", n: number): number {
  const tokens = tokensFor(n, model.config.vocabSize);
  cache.reset();
  const t0 = performance.now();
  if (kind === "pp") model.prefill(tokens, cache);
  else for (const t of tokens) model.decode(t, cache);
  return (n * 1000) / (performance.now() - t0);
}

export interface BenchTest {
  kind: "pp" | "tg";
  n: number;
  /** One of the default tests (not asked for by --pp / --tg): skipped, not refused, past the context. */
  fromDefault?: boolean;
}

/**
 * The tests that run, decided before any does, under the one context rule: a test longer than
 * the model's context (config.seqLen) is a usage error naming its flag, unless
 * --allow-context-overflow and a RoPE model (positions are computed, so the speed is real; the
 * outputs are not meaningful, and a note says so); a default test that does not fit is skipped
 * with a note instead. gpt2 never runs past its learned positions.
 */
export function planBench(model: Model, tests: readonly BenchTest[], allowOverflow: boolean, onNote: (note: string) => void): BenchTest[] {
  const { arch, seqLen } = model.config;
  const runnable: BenchTest[] = [];
  for (const test of tests) {
    const { kind, n } = test;
    if (n <= seqLen) {
      runnable.push(test);
    } else if (allowOverflow && arch === "llama") {
      onNote(`bench: note: ${kind}${n} runs past the model's trained context (${seqLen} tokens); RoPE computes the positions, so the speed is real, the outputs are not meaningful`);
      runnable.push(test);
    } else if (test.fromDefault) {
      onNote(`bench: skipped ${kind}${n} (a default test): it needs ${n} positions, the model's context is ${seqLen}` +
        (arch === "llama" ? `; --${kind} ${n} --allow-context-overflow runs it past the context` : ` (gpt2: learned positions, none past them)`));
    } else {
      throw new UsageError(
        `--${kind} ${n}: expected at most ${seqLen} tokens (the model's context), found ${n}; ` +
          (arch === "llama" ? "--allow-context-overflow runs a llama (RoPE) model past it" : `a ${arch} model has ${seqLen} learned position embeddings and none past them`),
      );
    }
  }
  return runnable;
}

/** An f32 KV cache element. */
const F32_BYTES = 4;

/** Numbers one position holds in one layer's K (or V): nKvHeads · headDim. */
const kvRowOf = (model: Model): number => (model.config.dim / model.config.nHeads) * model.config.nKvHeads;

/**
 * The one KV cache every run reuses, sized for the longest test and allocated before any test
 * runs: a test the memory cannot hold is a usage error naming its flag, not a failure after the
 * shorter tests (and a token array of the impossible length) have taken their time and memory.
 * `undefined` when no test is left to run.
 */
export function cacheForTests(model: Model, tests: readonly BenchTest[], allowOverflow = false): KVCache | undefined {
  const longest = tests.reduce<BenchTest | undefined>((a, t) => (a === undefined || t.n > a.n ? t : a), undefined);
  if (longest === undefined) return undefined;
  const { nLayers, seqLen } = model.config;
  const bytes = 2 * nLayers * longest.n * kvRowOf(model) * F32_BYTES;
  const refuse = (found: string, cause?: unknown): UsageError =>
    new UsageError(
      `--${longest.kind} ${longest.n}: expected a test whose KV cache fits in memory, found ${bytes.toLocaleString("en-US")} bytes ` +
        `(${nLayers} layers × K,V × ${longest.n} positions × ${kvRowOf(model)} numbers × ${F32_BYTES} bytes), ${found}; the model's context is ${seqLen} tokens`,
      cause === undefined ? undefined : { cause },
    );
  // the js backend allocates plain arrays: past the machine's memory they would only swap or crash
  if (model.backend.name === "js" && bytes > os.totalmem()) throw refuse(`more than this machine's ${os.totalmem().toLocaleString("en-US")} bytes`);
  try {
    return model.newCache({ capacity: longest.n, allowContextOverflow: allowOverflow });
  } catch (error) {
    if (error instanceof TransformerError && error.code === "BAD_CACHE") throw refuse(`more than the ${model.backend.name} backend could allocate`, error);
    throw error;
  }
}

/** The tests that run and the cache they share: every check done, nothing measured yet. */
export interface PreparedBench {
  tests: readonly BenchTest[];
  /** Sized for the longest test; undefined when every test was skipped. */
  cache: KVCache | undefined;
}

/** planBench + cacheForTests: everything that can refuse a test, before any test runs. */
export function prepareBench(model: Model, tests: readonly BenchTest[], allowOverflow: boolean, onNote: (note: string) => void = () => {}): PreparedBench {
  const runnable = planBench(model, tests, allowOverflow, onNote);
  return { tests: runnable, cache: cacheForTests(model, runnable, allowOverflow) };
}

/** Runs the prepared tests in order, each once to warm up, then `reps` timed times. */
export function runBench(model: Model, label: string, prepared: PreparedBench, reps: number, onResult: (r: BenchResult) => void = () => {}): BenchResult[] {
  const { cache } = prepared;
  const results: BenchResult[] = [];
  if (cache === undefined) return results;
  for (const { kind, n } of prepared.tests) {
    once(model, cache, kind, Math.min(n, 16)); // warm-up: JIT and first-touch of the buffers
    const samples = Array.from({ length: reps }, () => once(model, cache, kind, n));
    const r: BenchResult = {
      model: label,
      params: model.weights.parameterCount(),
      backend: model.backend.name,
      threads: model.backend.threads,
      test: `${kind}${n}`,
      n_prompt: kind === "pp" ? n : 0,
      n_gen: kind === "tg" ? n : 0,
      type_k: cache.layers[0]?.k.dtype ?? "f32",
      type_v: cache.layers[0]?.v.dtype ?? "f32",
      avg_ts: mean(samples),
      stddev_ts: stddev(samples),
      samples_ts: samples,
    };
    results.push(r);
    onResult(r);
  }
  return results;
}

function row(cells: readonly string[], widths: readonly number[], right: readonly boolean[]): string {
  return `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(" | ")} |`;
}

const WIDTHS = [28, 8, 7, 7, 6, 18];
const RIGHT = [false, true, false, true, true, true];

/** The column widths for this model's label (a long file name widens the first column). */
function widthsFor(label: string): number[] {
  return [Math.max(WIDTHS[0], label.length), ...WIDTHS.slice(1)];
}

/** The longest test `--pp` / `--tg` accept: the longest context a model may declare. */
const MAX_TEST = MAX_CONTEXT;

const FLAGS = {
  ...MODEL_FLAGS,
  ...LORA_FLAG,
  ...CONTEXT_FLAG,
  model: { type: "string", description: "checkpoint: GGUF file, llama2.c .bin, or Hugging Face directory (config.json + model.safetensors), e.g. models/default" },
  random: { type: "string", description: "random weights in a llama2.c shape instead of a file", choices: Object.keys(BENCH_SHAPES) },
  pp: { type: "integers", item: "prompt length", min: 0, max: MAX_TEST, description: "prompt lengths to prefill (default 128,512); 0 alone: no prompt test, as llama-bench's -p 0" },
  tg: { type: "integers", item: "token count", min: 0, max: MAX_TEST, description: "token counts to decode one by one (default 128); 0 alone: no generation test, as llama-bench's -n 0" },
  reps: { type: "number", description: "timed repetitions per test", integer: true, min: 1, max: 1000, default: 5 },
  batch: { type: "number", description: "rows per prefill pass (maxBatchRows)", integer: true, min: 1, max: 4096, default: 512 },
  json: { type: "boolean", description: "print one JSON array of results (llama-bench's field names) instead of the table" },
} as const satisfies FlagTable;

/** A --pp / --tg list: 0 alone turns that kind of test off; 0 beside lengths is ambiguous. */
function testLengths(flag: "pp" | "tg", lengths: readonly number[]): number[] {
  if (lengths.length === 1 && lengths[0] === 0) return [];
  if (lengths.includes(0)) throw new UsageError(`--${flag}: 0 means no ${flag === "pp" ? "prompt-processing" : "generation"} test and stands alone, found ${lengths.join(",")}`);
  return [...lengths];
}

async function run(args: ParsedArgs<typeof FLAGS>, io: CommandIO): Promise<number> {
  const { random, model: file, reps, batch, json } = args.flags;
  if ((random === undefined) === (file === undefined)) throw new UsageError("expected either --model FILE or --random 260K|15M|42M|110M");
  const pp = testLengths("pp", args.flags.pp ?? [128, 512]);
  const tg = testLengths("tg", args.flags.tg ?? [128]);
  if (pp.length === 0 && tg.length === 0) throw new UsageError("nothing to measure: --pp 0 and --tg 0 leave no test");

  const { backend, note, dispose } = await chooseBackend(args.flags);
  try {
    if (note) io.stderr.write(`${note}\n`);
    let model: Model;
    let label: string;
    if (random !== undefined) {
      if (!isBenchShape(random)) throw new UsageError(`--random: expected one of ${Object.keys(BENCH_SHAPES).join(", ")}, found ${random}`);
      const config = BENCH_SHAPES[random];
      model = new Model(config, randomWeights(config, { seed: 1, backend }), { backend, maxBatchRows: batch, cacheTypes: cacheTypesOf(args.flags) });
      label = `llama ${random} shape (random)`;
    } else if (file !== undefined) {
      const checkpoint = await openCheckpoint(file, { backend, maxBatchRows: batch, cacheTypes: cacheTypesOf(args.flags) });
      model = checkpoint.model;
      label = `${model.config.arch} ${path.basename(file)} (${checkpoint.format})`;
    } else {
      throw new UsageError("expected either --model FILE or --random 260K|15M|42M|110M");
    }
    const adapted = await adaptedModel(model, args.flags.lora);
    if (adapted.uses.length > 0) {
      model = adapted.model;
      label = `${label} + ${adapted.uses.length} lora`;
      io.stderr.write(`${describeAdapters(adapted.uses, args.flags.lora ?? [])}\n`);
    }
    const fromDefault = { pp: args.flags.pp === undefined, tg: args.flags.tg === undefined };
    const tests: BenchTest[] = [
      ...pp.map((n) => ({ kind: "pp" as const, n, fromDefault: fromDefault.pp })),
      ...tg.map((n) => ({ kind: "tg" as const, n, fromDefault: fromDefault.tg })),
    ];
    // every test is checked against the context and the memory before the table's first line
    // (notes go to stderr so the table, or the --json array, on stdout stays machine-readable)
    const prepared = prepareBench(model, tests, args.flags["allow-context-overflow"], (line) => io.stderr.write(`${line}\n`));
    const widths = widthsFor(label);
    if (!json) {
      io.stdout.write(`${row(["model", "params", "backend", "threads", "test", "t/s"], widths, RIGHT)}\n`);
      io.stdout.write(`| ${widths.map((w, i) => (RIGHT[i] ? `${"-".repeat(w - 1)}:` : "-".repeat(w))).join(" | ")} |\n`);
    }
    const onResult = (r: BenchResult): void => {
      if (json) return;
      const cells = [r.model, `${(r.params / 1e6).toFixed(2)} M`, r.backend, String(r.threads), r.test, `${r.avg_ts.toFixed(2)} ± ${r.stddev_ts.toFixed(2)}`];
      io.stdout.write(`${row(cells, widths, RIGHT)}\n`);
    };
    const results = runBench(model, label, prepared, reps, onResult);
    if (json) io.stdout.write(`${JSON.stringify(results)}\n`);
    return 0;
  } finally {
    await dispose();
  }
}

export const benchCommand = defineCommand({
  path: ["bench"],
  summary: "Prompt-processing and generation speed (llama-bench style): pp128, pp512, tg128",
  usage: "bench (--model FILE | --random 260K|15M|42M|110M) [--lora DIR[:scale]]... [--pp 128,512] [--tg 128] [--reps N] [--allow-context-overflow] [--threads N] [--backend wasm|js] [--json]",
  flags: FLAGS,
  positionals: { min: 0, max: 0 },
  run,
});
