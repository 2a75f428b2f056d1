import path from "node:path";
import { BENCH_SHAPES, Model, isBenchShape, randomWeights } from "@zero-llm/transformer";
import { openCheckpoint } from "@zero-llm/transformer/node";
import { UsageError, type Command, type CommandIO, type ParsedArgs } from "../command";
import { CONTEXT_FLAG, MODEL_FLAGS, chooseBackend, parseIds } from "./model-io";

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

/** One run of a test: tokens per second. */
function once(model: Model, kind: "pp" | "tg", n: number, allowOverflow: boolean): number {
  const tokens = tokensFor(n, model.config.vocabSize);
  const cache = model.newCache({ capacity: n, allowContextOverflow: allowOverflow });
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

/** Runs the tests in order (see planBench for which run). */
export function runBench(
  model: Model, label: string, tests: readonly BenchTest[], reps: number,
  onResult: (r: BenchResult) => void, onNote: (note: string) => void = () => {}, allowOverflow = false,
): BenchResult[] {
  const results: BenchResult[] = [];
  for (const { kind, n } of planBench(model, tests, allowOverflow, onNote)) {
    once(model, kind, Math.min(n, 16), allowOverflow); // warm-up: JIT and first-touch of the buffers
    const samples = Array.from({ length: reps }, () => once(model, kind, n, allowOverflow));
    const r: BenchResult = {
      model: label,
      params: model.weights.parameterCount(),
      backend: model.backend.name,
      threads: model.backend.threads,
      test: `${kind}${n}`,
      n_prompt: kind === "pp" ? n : 0,
      n_gen: kind === "tg" ? n : 0,
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

async function run(args: ParsedArgs, io: CommandIO): Promise<number> {
  const random = args.flags.random as string | undefined;
  const file = args.flags.model as string | undefined;
  if ((random === undefined) === (file === undefined)) throw new UsageError("expected either --model FILE or --random 260K|15M|42M|110M");
  const pp = parseIds("pp", (args.flags.pp as string | undefined) ?? "128,512").filter((n) => n > 0);
  const tg = parseIds("tg", (args.flags.tg as string | undefined) ?? "128").filter((n) => n > 0);
  const reps = args.flags.reps as number;
  const batch = args.flags.batch as number;
  const json = args.flags.json === true;

  const { backend, note, dispose } = await chooseBackend(args);
  try {
    if (note) io.stderr.write(`${note}\n`);
    let model: Model;
    let label: string;
    if (random !== undefined) {
      if (!isBenchShape(random)) throw new UsageError(`--random: expected one of ${Object.keys(BENCH_SHAPES).join(", ")}, found ${random}`);
      const config = BENCH_SHAPES[random];
      model = new Model(config, randomWeights(config, { seed: 1, backend }), { backend, maxBatchRows: batch });
      label = `llama ${random} shape (random)`;
    } else {
      const checkpoint = await openCheckpoint(file!, { backend, maxBatchRows: batch });
      model = checkpoint.model;
      label = `${model.config.arch} ${path.basename(file!)} (${checkpoint.format})`;
    }
    const fromDefault = { pp: args.flags.pp === undefined, tg: args.flags.tg === undefined };
    const tests: BenchTest[] = [
      ...pp.map((n) => ({ kind: "pp" as const, n, fromDefault: fromDefault.pp })),
      ...tg.map((n) => ({ kind: "tg" as const, n, fromDefault: fromDefault.tg })),
    ];
    const allowOverflow = args.flags["allow-context-overflow"] === true;
    planBench(model, tests, allowOverflow, () => {}); // a refused test stops here, before the table is printed
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
    // notes go to stderr so the table (or the --json array) on stdout stays machine-readable
    const results = runBench(model, label, tests, reps, onResult, (note) => io.stderr.write(`${note}\n`), allowOverflow);
    if (json) io.stdout.write(`${JSON.stringify(results)}\n`);
    return 0;
  } finally {
    await dispose();
  }
}

export const benchCommand: Command = {
  path: ["bench"],
  summary: "Prompt-processing and generation speed (llama-bench style): pp128, pp512, tg128",
  usage: "bench (--model FILE | --random 260K|15M|42M|110M) [--pp 128,512] [--tg 128] [--reps N] [--allow-context-overflow] [--threads N] [--backend wasm|js] [--json]",
  flags: {
    ...MODEL_FLAGS,
    ...CONTEXT_FLAG,
    model: { type: "string", description: "checkpoint: GGUF file, llama2.c .bin, or Hugging Face directory (config.json + model.safetensors), e.g. models/default" },
    random: { type: "string", description: "random weights in a llama2.c shape instead of a file", choices: Object.keys(BENCH_SHAPES) },
    pp: { type: "string", description: "prompt lengths to prefill, comma-separated (default 128,512)" },
    tg: { type: "string", description: "token counts to decode one by one, comma-separated (default 128)" },
    reps: { type: "number", description: "timed repetitions per test", integer: true, min: 1, max: 1000, default: 5 },
    batch: { type: "number", description: "rows per prefill pass (maxBatchRows)", integer: true, min: 1, max: 4096, default: 512 },
    json: { type: "boolean", description: "print one JSON array of results (llama-bench's field names) instead of the table" },
  },
  positionals: { min: 0, max: 0 },
  run,
};
