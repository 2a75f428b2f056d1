// Issue 12's CLI cases: messages that name what the user gave (#9), help that matches what the
// commands do (#10), config.json nulls (#11) and directories that cannot be made (#1, train).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { runCli } from "./helpers";

const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-hardening-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const text = "The cat sat on the mat. The dog sat on the log. A bird sang in the tree.\n".repeat(60);
const data = path.join(dir, "data.txt");
/** The default model as llama2.c (no tokenizer) and as GGUF (its tokenizer inside). */
const bin = path.join(dir, "default.bin");
const gguf = path.join(dir, "default.gguf");
/** A 280-token BPE: fewer tokens than the default model's 2048. */
const small = path.join(dir, "small.json");

beforeAll(async () => {
  writeFileSync(data, text);
  for (const out of [bin, gguf]) expect((await runCli(["export", "--out", out])).code).toBe(0);
  expect((await runCli(["tokenize", "train", "--vocab-size", "280", "--out", small, "--file", data])).code).toBe(0);
}, 300_000);

/** A llama2.c tokenizer.bin: max_token_length, then per token f32 score, i32 length, bytes. */
function llama2cTokenizer(pieces: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0].writeInt32LE(Math.max(...pieces.map((p) => Buffer.byteLength(p))));
  pieces.forEach((piece, i) => {
    const head = Buffer.alloc(8);
    head.writeFloatLE(-i, 0);
    head.writeInt32LE(Buffer.byteLength(piece), 4);
    parts.push(head, Buffer.from(piece));
  });
  return Buffer.concat(parts);
}

const firstLine = (stderr: string): string => stderr.split("\n")[0] ?? "";
const quiet = ["--backend", "js", "--max-tokens", "4"];

describe("#9 messages that name what the user gave", () => {
  it("--tokenizer FILE.gguf with a llama2.c model uses the GGUF's vocabulary (no internal API message)", async () => {
    const r = await runCli(["generate", "--model", bin, "--tokenizer", gguf, ...quiet, "--greedy", "--json", "The jury said"]);
    expect(r.code, r.stderr).toBe(0);
    const withTokenizer = JSON.parse(r.stdout) as { prompt: number[]; tokens: number[] };
    const reference = JSON.parse((await runCli(["generate", ...quiet, "--greedy", "--json", "The jury said"])).stdout) as { prompt: number[]; tokens: number[] };
    expect(withTokenizer.prompt).toEqual(reference.prompt); // bos 2047 from the GGUF's add_bos_token, then the same pieces
    expect(withTokenizer.tokens).toEqual(reference.tokens);
  });

  it("a damaged tokenizer file is named as given, not as \"tokenizer.bin\"", async () => {
    const file = path.join(dir, "rand1k.bin");
    writeFileSync(file, llama2cTokenizer(Array.from({ length: 300 }, (_, i) => `piece${i}`)).subarray(0, 1000));
    const r = await runCli(["generate", "--model", bin, "--tokenizer", file, ...quiet, "hello"]);
    expect(r.code).toBe(1);
    expect(firstLine(r.stderr)).toMatch(new RegExp(`^zllm: --tokenizer ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: llama2\\.c tokenizer: token \\d+: expected .* \\(TOKENIZER_BAD_LLAMA2C\\)$`));
    expect(r.stderr).not.toContain("tokenizer.bin:");
  });

  it("a directory or a missing file given as --data (train, eval ppl) or --config is a usage error naming it", async () => {
    const cases: [string[], string][] = [
      [["train", "--out", path.join(dir, "r1"), "--data", dir], `zllm: --data: expected a text file, found "${dir}" (a directory)`],
      [["train", "--out", path.join(dir, "r1"), "--data", path.join(dir, "nope.txt")], `zllm: --data: expected a text file, found "${path.join(dir, "nope.txt")}" (no such file)`],
      [["train", "--out", path.join(dir, "r1"), "--config", dir, "--data", data], `zllm: --config: expected a JSON file, found "${dir}" (a directory)`],
      [["eval", "ppl", "--model", gguf, "--data", dir], `zllm: --data: expected a text file, found "${dir}" (a directory)`],
      [["generate", "--model", bin, "--tokenizer", dir, "hi"], `zllm: --tokenizer: expected a tokenizer file, found "${dir}" (a directory)`],
    ];
    for (const [argv, message] of cases) {
      const r = await runCli(argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(firstLine(r.stderr)).toBe(message);
    }
    expect(existsSync(path.join(dir, "r1"))).toBe(false);
  });

  it("a device given to a file flag (--vocab, --tokenizer, --data) is refused before a byte is read, never read without end", async () => {
    const cases: [string[], string][] = [
      [["tokenize", "--vocab", "/dev/zero", "hi"], `zllm: --vocab: expected r50k_base, p50k_base, cl100k_base, o200k_base or a vocabulary file, found "/dev/zero" (a character device)`],
      [["generate", "--model", bin, "--tokenizer", "/dev/urandom", "hi"], `zllm: --tokenizer: expected a tokenizer file, found "/dev/urandom" (a character device)`],
      [["eval", "ppl", "--model", gguf, "--data", "/dev/zero"], `zllm: --data: expected a text file, found "/dev/zero" (a character device)`],
    ];
    for (const [argv, message] of cases) {
      const r = await runCli(argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(firstLine(r.stderr)).toBe(message);
    }
  });

  it("a tokenizer with fewer tokens than the model's vocabulary is refused at load, before any token is made", async () => {
    const given = await runCli(["generate", "--model", bin, "--tokenizer", small, ...quiet, "The cat"]);
    expect(given.code).toBe(2);
    expect(firstLine(given.stderr)).toBe(`zllm: --tokenizer ${small} has 280 tokens, expected at least the model's vocabulary size 2048 (ids 280…2047 could not be decoded; is it the model's tokenizer?)`);
    expect(given.stdout).toBe("");
    // --ids needs no tokenizer, but one given explicitly is still checked
    const ids = await runCli(["generate", "--model", bin, "--tokenizer", small, ...quiet, "--ids", "1,2"]);
    expect(ids.code).toBe(2);
    // the checkpoint's own tokenizer.json: the files disagree (exit 1)
    const hf = path.join(dir, "hf-small");
    expect((await runCli(["export", "--out", hf])).code).toBe(0);
    const json = path.join(dir, "small-tokenizer.json");
    expect((await runCli(["tokenize", "train", "--vocab-size", "280", "--out", json, "--file", data])).code).toBe(0);
    writeFileSync(path.join(hf, "tokenizer.json"), readFileSync(json));
    const own = await runCli(["eval", "ppl", "--model", hf, "--data", data, "--backend", "js"]);
    expect(own.code).toBe(1);
    expect(own.stderr).toBe("zllm: the checkpoint's tokenizer has 280 tokens, expected at least the model's vocabulary size 2048 (ids 280…2047 could not be decoded; is it the model's tokenizer?) (CLI_TOKENIZER_MISMATCH)\n");
  });
});

describe("#10 help that matches behaviour", () => {
  it("train: --val-fraction is (0, 1) and --lr > 0 in help and in the check, before any work", async () => {
    const help = await runCli(["train", "--help"]);
    expect(help.stdout).toMatch(/--val-fraction N +held-out share of the tokens \(default 0\.1\) \(a number in \(0, 1\)\)/);
    expect(help.stdout).toMatch(/--lr N +peak learning rate \(default 0\.001\) \(a number > 0\)/);
    for (const [flag, value, range] of [["val-fraction", "0", "a number in (0, 1)"], ["val-fraction", "1", "a number in (0, 1)"], ["lr", "0", "a number > 0"]] as const) {
      const r = await runCli(["train", "--out", path.join(dir, "r2"), "--data", data, `--${flag}`, value]);
      expect(r.code).toBe(2);
      expect(firstLine(r.stderr)).toBe(`zllm: --${flag} must be ${range}, found "${value}"`);
    }
    const config = path.join(dir, "bad.json");
    writeFileSync(config, JSON.stringify({ "val-fraction": 1 }));
    const fromFile = await runCli(["train", "--out", path.join(dir, "r2"), "--data", data, "--config", config]);
    expect(firstLine(fromFile.stderr)).toBe(`zllm: --config ${config}: "val-fraction" must be a number in (0, 1), found 1`);
    expect(existsSync(path.join(dir, "r2"))).toBe(false);
  });

  it("generate: --top-p 0 is refused by the flag check (the sampler needs (0, 1])", async () => {
    const r = await runCli(["generate", "--top-p", "0", "hi"]);
    expect(r.code).toBe(2);
    expect(firstLine(r.stderr)).toBe('zllm: --top-p must be a number in (0, 1], found "0"');
  });

  it("eval ppl without a tokenizer does not suggest --ids (it has none); generate does", async () => {
    const ppl = await runCli(["eval", "ppl", "--model", bin, "--data", data, "--backend", "js"]);
    expect(ppl.code).toBe(2);
    expect(firstLine(ppl.stderr)).toBe("zllm: no tokenizer: llama2.c checkpoints carry none; pass --tokenizer FILE (llama2.c tokenizer.bin or tokenizer.json)");
    const gen = await runCli(["generate", "--model", bin, ...quiet, "hi"]);
    expect(firstLine(gen.stderr)).toBe("zllm: no tokenizer: llama2.c checkpoints carry none; pass --tokenizer FILE (llama2.c tokenizer.bin or tokenizer.json), or use --ids");
  });

  it("bench --pp abc names a prompt length, not a token id; --pp 0 alone is documented and drops only the prompt tests", async () => {
    const abc = await runCli(["bench", "--random", "260K", "--pp", "abc"]);
    expect(abc.code).toBe(2);
    expect(firstLine(abc.stderr)).toBe('zllm: --pp: expected an integer prompt length in [0, 16777216], found "abc"');
    const help = await runCli(["bench", "--help"]);
    expect(help.stdout).toContain("0 alone: no prompt test, as llama-bench's -p 0");
    const none = await runCli(["bench", "--random", "260K", "--pp", "0", "--tg", "2", "--reps", "1", "--backend", "js", "--json"]);
    expect(none.code, none.stderr).toBe(0);
    expect((JSON.parse(none.stdout) as { test: string }[]).map((x) => x.test)).toEqual(["tg2"]);
    const mixed = await runCli(["bench", "--random", "260K", "--pp", "0,4"]);
    expect(mixed.code).toBe(2);
    expect(firstLine(mixed.stderr)).toBe("zllm: --pp: 0 means no prompt-processing test and stands alone, found 0,4");
    const nothing = await runCli(["bench", "--random", "260K", "--pp", "0", "--tg", "0"]);
    expect(firstLine(nothing.stderr)).toBe("zllm: nothing to measure: --pp 0 and --tg 0 leave no test");
  });

  it("bench: a test longer than any context, or one whose KV cache cannot exist, is refused before any test runs", async () => {
    const huge = await runCli(["bench", "--random", "15M", "--tg", "99999999"]);
    expect(huge.code).toBe(2);
    expect(firstLine(huge.stderr)).toBe('zllm: --tg: expected an integer token count in [0, 16777216], found "99999999"');
    // 16M positions of the 260K shape: 20 GB of KV cache, past wasm's 4 GiB; pp128 and pp512 would run first before
    // past the context is refused first (the context rule); with --allow-context-overflow the memory check refuses it
    const past = await runCli(["bench", "--random", "260K", "--tg", "16000000", "--reps", "1", "--backend", "wasm", "--threads", "1"]);
    expect(past.code).toBe(2);
    expect(past.stdout).toBe("");
    expect(firstLine(past.stderr)).toBe("zllm: --tg 16000000: expected at most 512 tokens (the model's context), found 16000000; --allow-context-overflow runs a llama (RoPE) model past it");
    const r = await runCli(["bench", "--random", "260K", "--tg", "16000000", "--reps", "1", "--backend", "wasm", "--threads", "1", "--allow-context-overflow"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe(""); // not one test ran
    expect(r.stderr).toMatch(/^bench: note: tg16000000 runs past the model's trained context \(512 tokens\)/);
    expect(r.stderr).toContain("zllm: --tg 16000000: expected a test whose KV cache fits in memory, found 20,480,000,000 bytes (5 layers × K,V × 16000000 positions × 32 numbers × 4 bytes), more than the wasm backend could allocate; the model's context is 512 tokens\n");
  });

  it("tokenize train --help lists every built-in pattern (llama3 and qwen2 too)", async () => {
    const help = await runCli(["tokenize", "train", "--help"]);
    expect(help.stdout).toContain("--pattern gpt2|cl100k|o200k|llama3|qwen2|REGEX");
    expect(help.stdout).toMatch(/split pattern: gpt2, cl100k, o200k, llama3, qwen2 or a regex/);
    for (const pattern of ["llama3", "qwen2"]) {
      const out = path.join(dir, `${pattern}.json`);
      const r = await runCli(["tokenize", "train", "--vocab-size", "260", "--out", out, "--pattern", pattern, "--file", data]);
      expect(r.code, r.stderr).toBe(0);
    }
  });
});

describe("#11 config.json values", () => {
  it("rms_norm_eps: null is a typed error naming the key, not a silent default", async () => {
    const hf = path.join(dir, "hf-null");
    expect((await runCli(["export", "--out", hf])).code).toBe(0);
    const configFile = path.join(hf, "config.json");
    writeFileSync(configFile, JSON.stringify({ ...(JSON.parse(readFileSync(configFile, "utf8")) as object), rms_norm_eps: null }));
    const r = await runCli(["eval", "logits", "--model", hf, "--tokens", "1,2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('zllm: hf config.json: expected "rms_norm_eps" to be a positive number (or the key left out for the default 0.000001), found null (BAD_METADATA)\n');
  });
});

describe("#1 directories that cannot be made", () => {
  it.skipIf(process.platform !== "linux" || !existsSync("/proc/self"))("train --out /proc/zllmtest fails at once with a typed error naming the path", async () => {
    const tiny = ["--vocab", "280", "--dim", "32", "--layers", "1", "--heads", "2", "--seq-len", "16", "--batch", "4", "--steps", "1", "--backend", "js"];
    const r = await runCli(["train", "--out", "/proc/zllmtest", "--data", data, ...tiny]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("zllm: makeDirectory: expected to create the directory /proc/zllmtest, found ENOENT although /proc exists (a file system that accepts no new directories there, such as /proc) (MKDIR_FAILED)\n");
    mkdirSync(path.join(dir, "blocked"));
    writeFileSync(path.join(dir, "blocked", "file"), "x");
    const blocked = await runCli(["train", "--out", path.join(dir, "blocked", "file", "run"), "--data", data, ...tiny]);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(/^zllm: makeDirectory: expected to create the directory .*blocked\/file \(on the way to .*\), found a file, not a directory, at .*\(MKDIR_FAILED\)\n$/);
  }, 300_000);
});
