import { existsSync } from "node:fs";
import path from "node:path";
import {
  ExampleDataset, LORA_CHECKPOINT_FILE, LoraError, loraConfig, loraSettings, parseJsonl, targetedModules, textData, tokenizeExample,
  type LoraCheckpointState, type LoraConfig, type LoraData, type TextCodec,
} from "@zero-llm/lora";
import { loraTrainRun, readLoraCheckpoint, removeStaleLoraTempFiles, type LoraTrainEvent } from "@zero-llm/lora/node";
import { getBackend, setBackend } from "@zero-llm/tensor";
import type { TrainSettings } from "@zero-llm/transformer";
import { UsageError, defineCommand, type CommandIO, type FlagTable, type FlagValues, type ParsedArgs } from "../command";
import { readFlagText } from "../flag-files";
import { DEFAULT_MODEL_PATH, MODEL_FLAGS, TOKENIZER_FLAG, modelFile, openModel, openTokenizer } from "./model-io";
import { progressLine } from "./train";

/**
 * `zllm lora train --model M --data FILE --out DIR [--rank 8] [--alpha 16] [--targets q_proj,v_proj]
 * [--steps N] [--lr X] [--rslora] [--resume]`: fine-tunes low-rank adapters on a frozen base
 * (@zero-llm/lora). DIR receives checkpoint.safetensors (resumable with --resume), the adapter in
 * PEFT's layout (adapter_config.json + adapter_model.safetensors: `zllm generate --lora DIR`) and
 * loss.csv, each written atomically. The base model is never written.
 *
 * --data: a text file (causal LM loss on every token, windows of --seq-len) or, for a .jsonl file,
 * one example per line, {"prompt", "completion"} or {"messages": [...]}, where only the completion
 * (and eos) or the assistant's turns count in the loss. Order of work: flags (and with --resume the
 * checkpoint against them), the model, the data and its tokens; only then is DIR written.
 */

const FLAGS = {
  model: MODEL_FLAGS.model,
  ...TOKENIZER_FLAG,
  data: { type: "string", description: "training data: a text file, or a .jsonl file of {\"prompt\", \"completion\"} or {\"messages\": [...]} lines (only completions / assistant turns are learned)" },
  format: { type: "string", description: "how to read --data (default: jsonl for a .jsonl file, else text)", choices: ["text", "jsonl"] },
  out: { type: "string", description: "run directory: checkpoint, the adapter (PEFT layout), loss.csv" },
  rank: { type: "number", description: "LoRA rank r (default 8)", integer: true, min: 1, max: 4096 },
  alpha: { type: "number", description: "LoRA alpha: the update is scaled by alpha / r (default 16)", min: 0 },
  targets: { type: "string", description: "comma-separated module names to adapt, Llama q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj or GPT-2 c_attn,c_proj,c_fc, or all-linear (default: Llama q_proj,v_proj, GPT-2 c_attn, as PEFT)" },
  "target-regex": { type: "string", description: "a regular expression the whole module name must match (PEFT's string form of target_modules), instead of --targets" },
  rslora: { type: "boolean", description: "rank-stabilised LoRA: scale by alpha / sqrt(r)" },
  dropout: { type: "number", description: "dropout on the adapters' input (default 0)", min: 0, max: 1, maxExclusive: true },
  init: { type: "string", description: "lora_A init: kaiming (uniform, PEFT's default) or gaussian (default kaiming)", choices: ["kaiming", "gaussian"] },
  steps: { type: "number", description: "optimizer steps (default 200)", integer: true, min: 1 },
  batch: { type: "number", description: "examples (or windows) per micro-batch (default 8)", integer: true, min: 1 },
  "grad-accum": { type: "number", description: "micro-batches per optimizer step (default 1)", integer: true, min: 1 },
  lr: { type: "number", description: "peak learning rate (default 1e-3)", min: 0, minExclusive: true },
  "min-lr": { type: "number", description: "cosine floor (default lr / 10)", min: 0 },
  warmup: { type: "number", description: "linear warmup steps (default min(20, floor(steps / 10)))", integer: true, min: 0 },
  "weight-decay": { type: "number", description: "AdamW λ on the adapters (default 0)", min: 0 },
  "grad-clip": { type: "number", description: "max global gradient norm, 0 = off (default 1)", min: 0 },
  "eval-every": { type: "number", description: "validation every N steps (default 50)", integer: true, min: 0 },
  "checkpoint-every": { type: "number", description: "checkpoint (and adapter files) every N steps (default 50)", integer: true, min: 0 },
  seed: { type: "number", description: "seed of lora_A, the batches and the dropout masks (default 1337)", integer: true, min: 0, max: 4294967295 },
  "val-fraction": { type: "number", description: "held-out share of the examples or tokens (default 0.1)", min: 0, max: 1, minExclusive: true, maxExclusive: true },
  "seq-len": { type: "number", description: "text data: window length (default the model's context, at most 256)", integer: true, min: 2 },
  resume: { type: "boolean", description: "continue from DIR/checkpoint.safetensors (same model and data); only --steps, --eval-every, --checkpoint-every may change" },
  json: { type: "boolean", description: "one JSON object per event on stdout (start, step, eval, checkpoint, done)" },
  quiet: { type: "boolean", description: "no progress; print only the final summary" },
  backend: MODEL_FLAGS.backend,
  threads: { type: "number", description: "threads for the wasm backend (default 2; results do not depend on it)", integer: true, min: 1, max: 64 },
} as const satisfies FlagTable;

type Flags = FlagValues<typeof FLAGS>;

/** A LoraError about values the user gave on the command line is a usage error (exit 2), keeping its code. */
function asUsage<T>(check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof LoraError && (e.code === "BAD_CONFIG" || e.code === "TARGET_NOT_FOUND" || e.code === "BAD_DATA")) throw new UsageError(`${e.message} (${e.code})`, { cause: e });
    throw e;
  }
}

/** The adapter the flags describe (absent flags: the package's defaults). */
function loraFrom(f: Flags): Partial<LoraConfig> {
  if (f.targets !== undefined && f["target-regex"] !== undefined) throw new UsageError("--targets and --target-regex exclude each other");
  const targets = f["target-regex"] ?? (f.targets === undefined ? undefined : f.targets === "all-linear" ? "all-linear" : f.targets.split(",").map((t) => t.trim()));
  if (Array.isArray(targets) && targets.some((t) => t === "")) throw new UsageError(`--targets ${f.targets}: expected comma-separated module names, found an empty one`);
  const given: Partial<LoraConfig> = {
    r: f.rank, alpha: f.alpha, dropout: f.dropout, init: f.init, targetModules: targets, ...(f.rslora ? { useRslora: true } : {}),
  };
  return Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
}

function settingsFrom(f: Flags): Partial<TrainSettings> {
  const given: Partial<TrainSettings> = {
    steps: f.steps, batchSize: f.batch, gradAccum: f["grad-accum"], lr: f.lr, minLr: f["min-lr"], warmupSteps: f.warmup,
    weightDecay: f["weight-decay"], gradClip: f["grad-clip"], evalEvery: f["eval-every"], checkpointEvery: f["checkpoint-every"],
    seed: f.seed, valFraction: f["val-fraction"],
  };
  return Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
}

/** With --resume, a flag that would change the run (anything but steps and the intervals) must agree with the checkpoint. */
function checkResumeFlags(f: Flags, state: LoraCheckpointState, file: string): void {
  const fixed: [string, unknown, unknown][] = [
    ["rank", f.rank, state.lora.r], ["alpha", f.alpha, state.lora.alpha], ["dropout", f.dropout, state.lora.dropout], ["init", f.init, state.lora.init],
    ["batch", f.batch, state.settings.batchSize], ["grad-accum", f["grad-accum"], state.settings.gradAccum], ["lr", f.lr, state.settings.lr],
    ["min-lr", f["min-lr"], state.settings.minLr], ["warmup", f.warmup, state.settings.warmupSteps], ["weight-decay", f["weight-decay"], state.settings.weightDecay],
    ["grad-clip", f["grad-clip"], state.settings.gradClip], ["seed", f.seed, state.settings.seed], ["val-fraction", f["val-fraction"], state.settings.valFraction],
  ];
  for (const [flag, given, stored] of fixed) {
    if (given !== undefined && given !== stored) {
      throw new UsageError(`--${flag} ${String(given)} differs from the checkpoint's ${String(stored)} (${file}): a resumed run keeps its adapter and optimizer settings; only --steps, --eval-every and --checkpoint-every may change`);
    }
  }
  if (f.rslora && !state.lora.useRslora) throw new UsageError(`--rslora differs from the checkpoint's plain LoRA scaling (${file})`);
  const targets = loraFrom(f).targetModules;
  if (targets !== undefined && JSON.stringify(targets) !== JSON.stringify(state.lora.targetModules)) {
    throw new UsageError(`--targets differs from the checkpoint's ${JSON.stringify(state.lora.targetModules)} (${file})`);
  }
  if (f.steps !== undefined && f.steps < state.step) throw new UsageError(`--steps ${f.steps}: expected at least the ${state.step} steps the checkpoint has done`);
}

/** The data the flags name, tokenized by the model's tokenizer. */
async function readData(f: Flags, dataFile: string, codec: TextCodec, vocabSize: number, context: number, valFraction: number, seed: number): Promise<LoraData> {
  const text = await readFlagText("data", dataFile, "a text or .jsonl file");
  if (text.trim().length === 0) throw new UsageError(`--data ${dataFile}: expected training data, found an empty file`);
  const jsonl = (f.format ?? (path.extname(dataFile).toLowerCase() === ".jsonl" ? "jsonl" : "text")) === "jsonl";
  return asUsage(() => {
    if (jsonl) {
      const examples = parseJsonl(text).map((e) => tokenizeExample(e, codec));
      return new ExampleDataset(examples, vocabSize, { seqLen: context, valFraction, seed });
    }
    if (f["seq-len"] !== undefined && f["seq-len"] > context) throw new UsageError(`--seq-len: expected at most ${context} (the model's context), found ${f["seq-len"]}`);
    const tokens = codec.bos !== undefined ? [codec.bos, ...codec.encode(text)] : codec.encode(text);
    try {
      return textData(tokens, vocabSize, { seqLen: f["seq-len"] ?? Math.min(context, 256), valFraction });
    } catch (e) {
      throw new UsageError(`--data ${dataFile}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  });
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)} MB`;

async function run(args: ParsedArgs<typeof FLAGS>, io: CommandIO): Promise<number> {
  const f = args.flags;
  const { out, resume } = f;
  if (out === undefined || out === "") throw new UsageError("--out DIR is required (the run directory: checkpoint and adapter)");
  if (f.data === undefined || f.data === "") throw new UsageError(`--data FILE is required (a text file, or .jsonl examples)${resume ? "; --resume needs the same data again" : ""}`);
  const checkpointFile = path.join(out, LORA_CHECKPOINT_FILE);
  const hasCheckpoint = existsSync(checkpointFile);
  if (resume && !hasCheckpoint) throw new UsageError(`--resume: expected ${checkpointFile}, found none`);
  if (!resume && hasCheckpoint) throw new UsageError(`--out ${out} holds the checkpoint of an earlier run: pass --resume to continue it (--steps N to extend it), or choose another directory`);
  const lora = asUsage(() => loraFrom(f));
  const state = resume ? await readLoraCheckpoint(checkpointFile) : undefined;
  if (state) checkResumeFlags(f, state, checkpointFile);
  const settings = state?.settings ?? asUsage(() => loraSettings(settingsFrom(f)));

  const opened = await openModel({ model: f.model, backend: f.backend, threads: f.threads ?? 2 });
  const previous = getBackend();
  try {
    const { model } = opened.checkpoint;
    if (!state) asUsage(() => targetedModules(model.config, loraConfig(model.config, lora))); // a target that matches nothing, before any work
    const text = await openTokenizer(opened.checkpoint, f.tokenizer);
    const [eos] = text.eos;
    const codec: TextCodec = { encode: (t) => text.tokenizer.encode(t), ...(text.bos !== undefined ? { bos: text.bos } : {}), ...(eos !== undefined ? { eos } : {}) };
    const data = await readData(f, f.data, codec, model.config.vocabSize, model.config.seqLen, settings.valFraction, settings.seed);

    const removed = await removeStaleLoraTempFiles(out);
    const note = (line: string): void => {
      if (!f.quiet && !f.json) io.stderr.write(`${line}\n`);
    };
    if (opened.backendNote) note(opened.backendNote);
    if (removed.length > 0) note(`removed ${removed.length} temporary file(s) an interrupted run left in ${out}: ${removed.join(", ")}`);
    setBackend(opened.backend);
    const tty = (io.stderr as NodeJS.WriteStream).isTTY === true;
    const onEvent = (e: LoraTrainEvent): void => {
      if (f.json) {
        io.stdout.write(`${JSON.stringify(e)}\n`);
        return;
      }
      if (f.quiet) return;
      if (e.type === "start") {
        const m = e.memory;
        io.stderr.write(
          `${e.resumed ? "resuming at" : "training from"} step ${e.step}/${e.steps}: LoRA on ${e.modules} modules of a ${model.config.arch} with ${m.baseParameters.toLocaleString("en")} frozen parameters; ` +
            `${m.trainableParameters.toLocaleString("en")} trainable (${(100 * m.trainableFraction).toFixed(2)}%), optimizer state ${mb(m.loraStateBytes)} instead of ${mb(m.fullFineTuneStateBytes)} for full fine-tuning (${mb(m.savedBytes)} saved); ` +
            `${e.data}; backend ${opened.backend.name}\n`,
        );
      } else if (e.type === "step") {
        const line = progressLine(e);
        if (tty) io.stderr.write(`\r${line}\x1b[K${e.step === e.steps || e.valLoss !== undefined ? "\n" : ""}`);
        else if (e.valLoss !== undefined || e.step % 10 === 0) io.stderr.write(`${line}\n`);
      }
    };
    const baseModel = f.model ?? (modelFile(undefined) === DEFAULT_MODEL_PATH ? "models/default" : modelFile(undefined));
    const result = await loraTrainRun({
      outDir: out, base: model, baseModel, data, lora, settings, resume, onEvent,
      ...(resume ? { resumeSettings: { steps: f.steps, evalEvery: f["eval-every"], checkpointEvery: f["checkpoint-every"] } } : {}),
    });
    if (!f.json) io.stdout.write(`done: step ${result.trainer.step}, validation loss ${result.valLoss.toFixed(4)}; adapter in ${out} (zllm generate --lora ${out})\n`);
    return 0;
  } finally {
    setBackend(previous);
    await opened.dispose();
  }
}

export const loraTrainCommand = defineCommand({
  path: ["lora", "train"],
  summary: "Fine-tune LoRA adapters on a frozen model from a text or JSONL file (resumable; writes a PEFT adapter)",
  usage: "lora train [--model M] --data FILE --out DIR [--rank 8] [--alpha 16] [--targets q_proj,v_proj] [--steps N] [--lr X] [--rslora] [--resume] [--json | --quiet]",
  flags: FLAGS,
  positionals: { min: 0, max: 0 },
  run,
});
