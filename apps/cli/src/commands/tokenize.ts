/**
 * `zllm tokenize` and `zllm tokenize train`: a public contract (scripts call them), so flags
 * and output formats are stable; apps/cli/README.md documents them.
 *
 *   zllm tokenize --vocab NAME|FILE [--file F | TEXT] [--json] [--allow-special] [--lossy]
 *     NAME: r50k_base, p50k_base, cl100k_base, o200k_base (rank data from the js-tiktoken
 *     package, a dependency of the CLI for its data only). FILE: tokenizer.json, .gguf, llama2.c
 *     tokenizer.bin, a .tiktoken rank file, or our own trained format (see
 *     @zero-llm/tokenizer-bpe's README), recognised by content. Text comes from TEXT, --file F,
 *     or standard input. Text from a file or standard input must be UTF-8: invalid bytes are an
 *     error giving their byte offset (TOKENIZER_INVALID_UTF8, exit 1), unless --lossy replaces
 *     them with U+FFFD (and says so on stderr). Output: `--json` prints one line, the ids as a
 *     JSON array. Otherwise one line per token: `<id>\t<token as a JSON string>`, then a line
 *     `<n> tokens`.
 *
 *   zllm tokenize train --vocab-size N --out FILE [--file F | TEXT] [--pattern P] [--special S,...]
 *     Trains byte-level BPE and writes our JSON format (or tokenizer.json when FILE ends with
 *     "tokenizer.json"), atomically. Progress goes to stderr, and a warning line when the text
 *     cannot fill N; the last stdout line is `wrote FILE (N tokens)`.
 */
import { once } from "node:events";
import { stat } from "node:fs/promises";
import path from "node:path";
import {
  BUILTIN_PATTERNS,
  GGUF_PRE_TOKENIZER_NAMES,
  TokenizerError,
  compilePattern,
  decodeUtf8Strict,
  exportTokenizerJson,
  invalidUtf8Offset,
  saveBpeJson,
  trainBpeWithReport,
} from "@zero-llm/tokenizer-bpe";
import { writeFileAtomic } from "@zero-llm/tensor/node";
import { UsageError, defineCommand, type CommandIO } from "../command";
import { readFlagFile } from "../flag-files";
import { loadTokenizer } from "./vocabulary";

/** The split patterns `tokenize train --pattern` knows by name (gpt2, cl100k, o200k, llama3, qwen2). */
const PATTERN_NAMES = Object.keys(BUILTIN_PATTERNS);

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * How input bytes become text: "strict" refuses invalid UTF-8 with its byte offset; "lossy"
 * replaces it with U+FFFD and warns on stderr; "replace" replaces it silently (`tokenize train`,
 * as it always has).
 */
type Utf8Mode = "strict" | "lossy" | "replace";

/** TEXT (the positionals joined by spaces), else --file F, else standard input. */
async function inputText(file: string | undefined, positionals: readonly string[], mode: Utf8Mode = "replace", io?: CommandIO): Promise<string> {
  if (file !== undefined && positionals.length > 0) throw new UsageError("give either --file F or TEXT, not both");
  if (file === undefined && positionals.length > 0) return positionals.join(" ");
  const bytes = file !== undefined ? await readFlagFile("file", file, "a text file") : await readStdin();
  const source = file !== undefined ? `--file ${file}` : "standard input";
  if (mode === "strict") {
    try {
      return decodeUtf8Strict(bytes, source);
    } catch (error) {
      if (error instanceof TokenizerError) throw new TokenizerError(error.code, `${error.message}; --lossy replaces invalid bytes with U+FFFD`, { cause: error });
      throw error;
    }
  }
  const invalidAt = mode === "lossy" ? invalidUtf8Offset(bytes) : -1;
  if (invalidAt >= 0) io?.stderr.write(`zllm: warning: ${source} is not valid UTF-8 (first invalid byte at offset ${invalidAt}); --lossy replaced invalid bytes with U+FFFD\n`);
  return Buffer.from(bytes).toString("utf8");
}

export const tokenizeCommand = defineCommand({
  path: ["tokenize"],
  summary: "Encode text into token ids with a built-in encoding or a vocabulary file",
  usage: "tokenize --vocab NAME|FILE [--file F | TEXT] [--json] [--allow-special] [--lossy]",
  flags: {
    vocab: {
      type: "string",
      description: `r50k_base | p50k_base | cl100k_base | o200k_base, or a tokenizer.json / .gguf / tokenizer.bin / .tiktoken / trained .json file; a .gguf vocabulary is gpt2 (byte-level BPE), llama (SentencePiece) or bert (WordPiece), and its pre-tokenizer (tokenizer.ggml.pre) one of: ${GGUF_PRE_TOKENIZER_NAMES.join(", ")}`,
    },
    file: { type: "string", description: "read the text from this file (default: TEXT, else standard input)" },
    json: { type: "boolean", description: "print only the ids, as a JSON array" },
    "allow-special": { type: "boolean", description: "recognise special tokens such as <|endoftext|> in the text (default: plain text)" },
    lossy: { type: "boolean", description: "replace invalid UTF-8 in the input with U+FFFD, with a warning on stderr (default: invalid UTF-8 is an error giving its byte offset)" },
  },
  positionals: { min: 0, max: Number.MAX_SAFE_INTEGER },
  async run(args, io: CommandIO): Promise<number> {
    const vocab = args.flags.vocab;
    if (vocab === undefined) throw new UsageError("--vocab is required");
    const tok = await loadTokenizer(vocab);
    const text = await inputText(args.flags.file, args.positionals, args.flags.lossy ? "lossy" : "strict", io);
    const options = args.flags["allow-special"] ? { allowedSpecial: "all" as const } : {};
    // Ids in chunks, each written before the next is made: 50 MB of text can make 50 M ids.
    const chunks = tok.encodeChunks(text, { ...options, chunkSize: ID_CHUNK });
    if (args.flags.json) await writeJsonIds(io.stdout, chunks);
    else await writeTokenLines(io.stdout, chunks, (id) => tok.tokenText(id));
    return 0;
  },
});

/**
 * Output is written in pieces of about this many characters, each after the stream has taken the
 * one before: 50 MB of input can make 50 M tokens, and one string of all their lines would be
 * gigabytes.
 */
const OUTPUT_CHUNK = 1 << 16;
/** Ids asked of the encoder at a time: about one OUTPUT_CHUNK of `--json` output. */
const ID_CHUNK = 1 << 13;

/** Writes `chunk`; resolves once the stream can take more (backpressure, as `pipe` does). */
async function writeChunk(stream: NodeJS.WritableStream, chunk: string): Promise<void> {
  if (!stream.write(chunk)) await once(stream, "drain");
}

/** `--json`: the same line as `JSON.stringify(ids)` of all the ids, written in pieces as the chunks come. */
async function writeJsonIds(stream: NodeJS.WritableStream, chunks: Iterable<Uint32Array>): Promise<void> {
  let out = "[";
  let first = true;
  for (const ids of chunks) {
    for (let k = 0; k < ids.length; k++) {
      out += first ? `${ids[k]}` : `,${ids[k]}`;
      first = false;
    }
    if (out.length >= OUTPUT_CHUNK) {
      await writeChunk(stream, out);
      out = "";
    }
  }
  await writeChunk(stream, out + "]\n");
}

/** One line per token (`<id>\t<token as a JSON string>`), then `<n> tokens`; each distinct token's line is made once. */
async function writeTokenLines(stream: NodeJS.WritableStream, chunks: Iterable<Uint32Array>, tokenText: (id: number) => string): Promise<void> {
  const lines: (string | undefined)[] = []; // by id
  let out = "";
  let count = 0;
  for (const ids of chunks) {
    for (const id of ids) {
      let line = lines[id];
      if (line === undefined) lines[id] = line = `${id}\t${JSON.stringify(tokenText(id))}\n`;
      out += line;
    }
    count += ids.length;
    if (out.length >= OUTPUT_CHUNK) {
      await writeChunk(stream, out);
      out = "";
    }
  }
  await writeChunk(stream, out + `${count} tokens\n`);
}

/** Checks that cost nothing, before reading and training: the pattern compiles, --out has a directory. */
async function checkTrainFlags(pattern: string, out: string): Promise<void> {
  try {
    compilePattern(new Map(Object.entries(BUILTIN_PATTERNS)).get(pattern) ?? pattern);
  } catch (error) {
    throw new UsageError(`--pattern: expected gpt2, cl100k, o200k or a valid regex, found ${JSON.stringify(pattern)} (${(error as Error).message.replace(/^pattern: /, "")})`, { cause: error });
  }
  const dir = path.dirname(path.resolve(out));
  const info = await stat(dir).catch(() => undefined);
  if (info === undefined || !info.isDirectory()) throw new UsageError(`--out: expected a file in an existing directory, found "${out}" (no directory ${dir})`);
}

export const tokenizeTrainCommand = defineCommand({
  path: ["tokenize", "train"],
  summary: "Train a byte-level BPE tokenizer on text",
  usage: `tokenize train --vocab-size N --out FILE [--file F | TEXT] [--pattern ${PATTERN_NAMES.join("|")}|REGEX] [--special S1,S2]`,
  flags: {
    "vocab-size": { type: "number", description: "final vocabulary size (256 bytes + merges + special tokens); smaller, with a warning, when the text runs out of pairs", integer: true, min: 257 },
    out: { type: "string", description: "output file: our JSON format, or Hugging Face format when the name ends in tokenizer.json" },
    file: { type: "string", description: "training text file (default: TEXT, else standard input)" },
    pattern: { type: "string", description: `split pattern: ${PATTERN_NAMES.join(", ")} or a regex`, default: "cl100k" },
    special: { type: "string", description: "comma-separated special tokens, given the last ids" },
  },
  positionals: { min: 0, max: Number.MAX_SAFE_INTEGER },
  async run(args, io: CommandIO): Promise<number> {
    const vocabSize = args.flags["vocab-size"];
    const out = args.flags.out;
    if (vocabSize === undefined) throw new UsageError("--vocab-size is required");
    if (out === undefined) throw new UsageError("--out is required");
    const special = args.flags.special?.split(",").filter((s) => s !== "") ?? [];
    const { pattern } = args.flags;
    if (vocabSize < 256 + special.length) throw new UsageError(`--vocab-size must be at least ${256 + special.length} (256 bytes + ${special.length} special tokens), found ${vocabSize}`);
    await checkTrainFlags(pattern, out);
    const text = await inputText(args.flags.file, args.positionals);
    if (text === "") throw new UsageError("the training text is empty");
    const started = performance.now();
    const report = trainBpeWithReport(text, {
      vocabSize,
      pattern,
      specialTokens: special,
      progressEvery: 256,
      onProgress: (p) => io.stderr.write(`merge ${p.merges}/${p.total} (count ${p.count})\n`),
    });
    const tok = report.tokenizer;
    if (report.shortfall) {
      io.stderr.write(`zllm: warning: the text ran out of pairs to merge after ${report.merges} of ${report.requestedMerges} merges: the vocabulary has ${tok.vocabSize} tokens, not the ${vocabSize} of --vocab-size\n`);
    }
    const contents = out.endsWith("tokenizer.json") ? exportTokenizerJson(tok) : saveBpeJson(tok);
    // Temp file + rename: a reader (or a crash) never sees half a tokenizer.
    await writeFileAtomic(out, [new TextEncoder().encode(contents)]);
    io.stderr.write(`trained in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    io.stdout.write(`wrote ${out} (${tok.vocabSize} tokens)\n`);
    return 0;
  },
});
