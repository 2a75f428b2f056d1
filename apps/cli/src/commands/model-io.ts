import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createWasmBackend, jsBackend, type Backend, type WasmBackend } from "@zero-llm/tensor";
import {
  createStreamDecoder, fromGgufMetadata, fromLlama2cTokenizer, fromTokenizerJson, loadVocabulary, SpmTokenizer,
  type StreamDecoder, type Tokenizer,
} from "@zero-llm/tokenizer-bpe";
import type { Checkpoint, KVCache, Model } from "@zero-llm/transformer";
import { openCheckpoint } from "@zero-llm/transformer/node";
import { CliError, UsageError, type FlagSpec, type ParsedArgs } from "../command";

/**
 * What the model commands (generate, chat, eval logits, bench) share: the --model / --backend /
 * --threads flags, opening a checkpoint on the chosen backend, and finding its tokenizer.
 */

/**
 * The directory of the nearest package.json above `start`: apps/cli, both for the bundled
 * dist/cli.js and for src/commands/model-io.ts under vitest (neither folder has one).
 */
function packageDirOf(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) return start;
  }
}

/**
 * The embedded default model (models/default at the repository root: a 1M-parameter Llama
 * trained on the Brown corpus, see its MODEL.md), used when --model is not given. Found from
 * where the CLI's own files are, never from the working directory, so `zllm generate` works
 * from any folder. The CLI is private to the repository, so the repository is always there.
 */
export const DEFAULT_MODEL_PATH: string = path.resolve(packageDirOf(path.dirname(fileURLToPath(import.meta.url))), "../../models/default");

export const MODEL_FLAGS = {
  model: { type: "string", description: "checkpoint: GGUF file, llama2.c .bin, or Hugging Face directory (config.json + model.safetensors); default the embedded model (models/default)" },
  backend: { type: "string", description: "kernels: wasm (SIMD, default when available) or js (reference)", choices: ["wasm", "js"] },
  threads: { type: "number", description: "threads for the wasm backend (default 2)", integer: true, min: 1, max: 64 },
} as const satisfies Record<string, FlagSpec>;

export const CONTEXT_FLAG = {
  "allow-context-overflow": {
    type: "boolean",
    description: "run a llama (RoPE) model past its trained context (positions are computed, but outputs there were never trained); a gpt2 model cannot (it has that many learned positions)",
  },
} as const satisfies Record<string, FlagSpec>;

/**
 * A KV cache of `capacity` positions under the one context rule: more than the model's context
 * (config.seqLen) is a usage error naming `what`, unless --allow-context-overflow and the model
 * is a llama (RoPE computes any position; gpt2 has only its learned ones).
 */
export function contextCache(model: Model, capacity: number, what: string, allowOverflow: boolean): KVCache {
  const { seqLen, arch } = model.config;
  if (capacity > seqLen) {
    if (!allowOverflow) {
      throw new UsageError(`${what}: expected at most ${seqLen} tokens (the model's context), found ${capacity}; --allow-context-overflow runs a llama (RoPE) model past it`);
    }
    if (arch !== "llama") {
      throw new UsageError(`${what}: expected at most ${seqLen} tokens, found ${capacity}; --allow-context-overflow cannot help a ${arch} model: it has ${seqLen} learned position embeddings and none past them`);
    }
  }
  return model.newCache({ capacity, allowContextOverflow: allowOverflow });
}

export const TOKENIZER_FLAG = {
  tokenizer: { type: "string", description: "tokenizer file: llama2.c tokenizer.bin or tokenizer.json (default: the one in the checkpoint)" },
} as const satisfies Record<string, FlagSpec>;

export interface OpenedModel {
  readonly checkpoint: Checkpoint;
  readonly backend: Backend;
  /** A note for stderr when the wasm backend was asked for (or defaulted) but is unavailable. */
  readonly backendNote?: string;
  dispose(): Promise<void>;
}

/** The --model path, or the embedded model's directory; CLI_NO_DEFAULT_MODEL (exit 1) when that is missing. */
export function modelPath(args: ParsedArgs, defaultPath: string = DEFAULT_MODEL_PATH): string {
  const given = args.flags.model;
  if (typeof given === "string" && given !== "") return given;
  if (!existsSync(path.join(defaultPath, "config.json")) || !existsSync(path.join(defaultPath, "model.safetensors"))) {
    throw new CliError(
      "CLI_NO_DEFAULT_MODEL",
      `the embedded default model is missing: expected ${defaultPath} with config.json and model.safetensors (models/default of the zero-llm repository), found none; pass --model FILE`,
    );
  }
  return defaultPath;
}

/** The wasm backend (threads from --threads, default 2) unless --backend js or wasm is unavailable. */
export async function chooseBackend(args: ParsedArgs): Promise<{ backend: Backend; note?: string; dispose(): Promise<void> }> {
  const kind = (args.flags.backend as string | undefined) ?? "wasm";
  const threads = (args.flags.threads as number | undefined) ?? 2;
  if (kind === "js") return { backend: jsBackend, dispose: async () => {} };
  try {
    const wasm: WasmBackend = await createWasmBackend({ threads });
    return { backend: wasm, dispose: () => wasm.dispose() };
  } catch (error) {
    if (args.flags.backend === "wasm") throw error; // asked for explicitly
    return { backend: jsBackend, note: `wasm backend unavailable (${error instanceof Error ? error.message : String(error)}); using js`, dispose: async () => {} };
  }
}

export async function openModel(args: ParsedArgs, maxBatchRows?: number): Promise<OpenedModel> {
  const file = modelPath(args);
  const { backend, note, dispose } = await chooseBackend(args);
  try {
    const checkpoint = await openCheckpoint(file, { backend, ...(maxBatchRows ? { maxBatchRows } : {}) });
    return { checkpoint, backend, ...(note ? { backendNote: note } : {}), dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** A tokenizer and the ids that frame a sequence. */
export interface TextCodec {
  readonly tokenizer: Tokenizer;
  /** Prepended to a prompt when the vocabulary asks for it (Llama's <s>). */
  readonly bos?: number;
  /** Generation stops at any of these. */
  readonly eos: readonly number[];
  encode(text: string): number[];
  decoder(): StreamDecoder;
}

function codec(tokenizer: Tokenizer, bos: number | undefined, eos: readonly number[]): TextCodec {
  return {
    tokenizer,
    ...(bos !== undefined ? { bos } : {}),
    eos,
    encode: (text) => (bos !== undefined ? [bos, ...tokenizer.encode(text)] : tokenizer.encode(text)),
    decoder: () => createStreamDecoder(tokenizer),
  };
}

const plain = (v: unknown): unknown => (typeof v === "bigint" ? Number(v) : v);

/**
 * The checkpoint's tokenizer: --tokenizer FILE when given (llama2.c tokenizer.bin or
 * tokenizer.json); else GGUF tokenizer.ggml.* metadata, or tokenizer.json beside a Hugging Face
 * checkpoint. llama2.c checkpoints carry none: --tokenizer is required for text with them.
 */
export async function openTokenizer(checkpoint: Checkpoint, tokenizerFile?: string): Promise<TextCodec> {
  if (tokenizerFile) {
    const bytes = new Uint8Array(await readFile(tokenizerFile));
    if (tokenizerFile.endsWith(".bin")) {
      const t = fromLlama2cTokenizer(bytes);
      // llama2.c's run.c stops at <s> (a new story) as well as </s>
      return codec(t, 1, [1, 2]);
    }
    const t = loadVocabulary(bytes);
    return codec(t, t instanceof SpmTokenizer ? t.bosId : undefined, eosOf(t));
  }
  if (checkpoint.ggufMetadata) {
    const meta = new Map([...checkpoint.ggufMetadata].map(([k, v]) => [k, plain(v.value)]));
    const t = fromGgufMetadata(meta);
    const bosId = meta.get("tokenizer.ggml.bos_token_id");
    const eosId = meta.get("tokenizer.ggml.eos_token_id");
    const addBos = meta.get("tokenizer.ggml.add_bos_token") ?? t instanceof SpmTokenizer;
    return codec(t, addBos === true && typeof bosId === "number" ? bosId : undefined, typeof eosId === "number" ? [eosId] : eosOf(t));
  }
  if (checkpoint.directory) {
    const file = path.join(checkpoint.directory, "tokenizer.json");
    const json = await readFile(file, "utf8").catch(() => {
      throw new UsageError(`no tokenizer: expected ${file} beside the Hugging Face checkpoint, or pass --tokenizer FILE`);
    });
    const t = fromTokenizerJson(json);
    const config = (checkpoint.hfConfig ?? {}) as { bos_token_id?: unknown; eos_token_id?: unknown; model_type?: unknown };
    const eos = Array.isArray(config.eos_token_id) ? config.eos_token_id : [config.eos_token_id];
    const ids = eos.filter((x): x is number => typeof x === "number");
    const bos = config.model_type === "llama" && typeof config.bos_token_id === "number" ? config.bos_token_id : undefined;
    return codec(t, bos, ids.length > 0 ? ids : eosOf(t));
  }
  throw new UsageError("no tokenizer: llama2.c checkpoints carry none; pass --tokenizer FILE (llama2.c tokenizer.bin or tokenizer.json), or use --ids");
}

function eosOf(t: Tokenizer): number[] {
  if (t instanceof SpmTokenizer && t.eosId !== undefined) return [t.eosId];
  const eot = t.specialTokens.get("<|endoftext|>") ?? t.specialTokens.get("</s>") ?? t.specialTokens.get("<|eot_id|>");
  return eot === undefined ? [] : [eot];
}

/** "1,450,9038" → [1, 450, 9038]; a UsageError naming the bad item otherwise. */
export function parseIds(flag: string, text: string): number[] {
  const items = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (items.length === 0) throw new UsageError(`--${flag}: expected comma-separated token ids, found ${JSON.stringify(text)}`);
  return items.map((s) => {
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new UsageError(`--${flag}: expected a non-negative integer token id, found ${JSON.stringify(s)}`);
    return Number(s);
  });
}

/** Token ids must be below the model's vocabulary size. */
export function checkIds(flag: string, ids: readonly number[], vocabSize: number): void {
  const bad = ids.find((id) => id >= vocabSize);
  if (bad !== undefined) throw new UsageError(`--${flag}: expected token ids below the vocabulary size ${vocabSize}, found ${bad}`);
}

/**
 * A text prompt's ids must fit the model too: an id out of range means the tokenizer is not the
 * model's. With --tokenizer FILE that is a bad argument (exit 2); with the checkpoint's own
 * tokenizer the files disagree (exit 1).
 */
export function checkPromptIds(ids: readonly number[], vocabSize: number, tokenizerFlag: string | undefined): void {
  const bad = ids.find((id) => id >= vocabSize);
  if (bad === undefined) return;
  const source = tokenizerFlag !== undefined ? `--tokenizer ${tokenizerFlag}` : "the checkpoint's tokenizer";
  const message = `prompt: ${source} gave token id ${bad}, expected ids below the model's vocabulary size ${vocabSize} (is it the model's tokenizer?)`;
  if (tokenizerFlag !== undefined) throw new UsageError(message);
  throw new CliError("CLI_TOKENIZER_MISMATCH", message);
}
