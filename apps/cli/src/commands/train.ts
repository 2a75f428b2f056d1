import { existsSync } from "node:fs";
import path from "node:path";
import { getBackend, setBackend } from "@zero-llm/tensor";
import { makeDirectory, writeFileAtomic } from "@zero-llm/tensor/node";
import { CHECKPOINT_FILE, checkDataLength, modelConfig, resolveSettings, type Config, type TrainSettings } from "@zero-llm/transformer";
import { readCheckpointFile, removeStaleTempFiles, trainRun, type TrainEvent, type TrainRunOptions } from "@zero-llm/transformer/node";
import { CliError, UsageError, defineCommand, type CommandIO, type ParsedArgs } from "../command";
import { chooseBackend } from "./model-io";
import { TRAIN_FLAGS, type TrainFlags } from "./train-flags";
import { EOT, asUsage, mergedFlags, trainingText } from "./train-input";
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



/** The optimizer and schedule settings the flags give (absent flags: the package's defaults). */
function settingsFrom(f: TrainFlags): Partial<TrainSettings> {
  const given: Partial<TrainSettings> = {
    steps: f.steps, batchSize: f.batch, gradAccum: f["grad-accum"], lr: f.lr, minLr: f["min-lr"], warmupSteps: f.warmup,
    weightDecay: f["weight-decay"], gradClip: f["grad-clip"], dropout: f.dropout, evalEvery: f["eval-every"],
    checkpointEvery: f["checkpoint-every"], seed: f.seed, valFraction: f["val-fraction"],
  };
  return Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined));
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
function configFrom(f: TrainFlags, vocabSize: number): Config {
  return asUsage(() => modelConfig({
    vocabSize,
    ...(f.arch !== undefined ? { arch: f.arch } : {}),
    ...(f.dim !== undefined ? { dim: f.dim } : {}),
    ...(f.layers !== undefined ? { nLayers: f.layers } : {}),
    ...(f.heads !== undefined ? { nHeads: f.heads } : {}),
    ...(f["kv-heads"] !== undefined ? { nKvHeads: f["kv-heads"] } : {}),
    ...(f.hidden !== undefined ? { hiddenDim: f.hidden } : {}),
    ...(f["seq-len"] !== undefined ? { seqLen: f["seq-len"] } : {}),
    ...(f.untied ? { tiedEmbeddings: false } : {}),
  }));
}

async function run(args: ParsedArgs<typeof TRAIN_FLAGS>, io: CommandIO): Promise<number> {
  const f = await mergedFlags(args.flags, TRAIN_FLAGS, args.flags.config);
  const { out, resume } = f;
  if (out === undefined || out === "") throw new UsageError("--out DIR is required (the run directory)");
  if (f.data !== undefined && f.brown) throw new UsageError("--data and --brown exclude each other");
  if (!resume && f.data === undefined && !f.brown) throw new UsageError("training text is required: --data FILE or --brown");
  const checkpointFile = path.join(out, CHECKPOINT_FILE);
  const hasCheckpoint = existsSync(checkpointFile);
  if (resume && !hasCheckpoint) throw new UsageError(`--resume: expected ${checkpointFile}, found none`);
  if (!resume && hasCheckpoint) throw new UsageError(`--out ${out} holds the checkpoint of an earlier run: pass --resume to continue it (--steps N to extend it), or choose another directory`);
  const notes: string[] = [];
  const note = (line: string): void => {
    if (!f.quiet) io.stderr.write(`${line}\n`);
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
    config = configFrom(f, f.vocab ?? DEFAULT_VOCAB);
  }

  const { text, source } = await trainingText(f, out, resume);
  // Every token covers at least one byte, except one leading-space token a SentencePiece
  // vocabulary may put in front: a text that short can never be enough, refused before any tokenizer work.
  const bytes = Buffer.byteLength(text, "utf8");
  asUsage(() => checkDataLength(bytes + 1, config.seqLen, settings.valFraction, `tokens at most (${bytes} UTF-8 bytes)`), source);
  const prepared = await prepareTokenizer({
    out, resume, text,
    ...(f.tokenizer !== undefined ? { file: f.tokenizer } : {}),
    ...(f.vocab !== undefined ? { vocab: f.vocab } : {}),
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
  await makeDirectory(out);
  const removed = await removeStaleTempFiles(out);
  if (removed.length > 0) notes.push(`removed ${removed.length} temporary file(s) an interrupted run left in ${out}: ${removed.join(", ")}`);
  for (const file of prepared.files) await writeFileAtomic(path.join(out, file.name), [new TextEncoder().encode(file.text)]);
  for (const line of notes) note(line);

  const chosen = await chooseBackend({ backend: f.backend, threads: f.threads ?? 2 });
  const previous = getBackend();
  setBackend(chosen.backend);
  const tty = (io.stderr as NodeJS.WriteStream).isTTY === true;
  const onEvent = (e: TrainEvent): void => {
    if (f.json) {
      io.stdout.write(`${JSON.stringify(e)}\n`);
      return;
    }
    if (f.quiet) return;
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
    if (!f.json) io.stdout.write(`done: step ${summary.step}, validation loss ${summary.valLoss.toFixed(4)}, perplexity ${summary.perplexity.toFixed(2)}; model in ${out} (zllm generate --model ${out})\n`);
    return 0;
  } finally {
    setBackend(previous);
    await chosen.dispose();
  }
}

export const trainCommand = defineCommand({
  path: ["train"],
  summary: "Train a GPT-2 or Llama model on a text file or the Brown corpus (resumable checkpoints)",
  usage: "train --out DIR (--data FILE | --brown) [--config FILE] [--arch llama|gpt2 --dim N --layers N --heads N --kv-heads N --seq-len N --vocab N] [--steps N --batch N --lr X ...] [--resume] [--json | --quiet]",
  flags: TRAIN_FLAGS,
  positionals: { min: 0, max: 0 },
  run,
});
