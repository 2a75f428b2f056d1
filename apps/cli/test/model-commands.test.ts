import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { jsBackend } from "@zero-llm/tensor";
import { Model, allocateWeights, generate, type Config } from "@zero-llm/transformer";
import { writeGgufModel } from "@zero-llm/transformer/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { benchCommand, type BenchResult } from "../src/commands/bench";
import { makeChatCommand } from "../src/commands/chat";
import { evalLogitsCommand } from "../src/commands/eval-logits";
import { generateCommand } from "../src/commands/generate";
import { evalPplCommand } from "../src/commands/eval-ppl";
import { DEFAULT_MODEL_PATH, modelPath } from "../src/commands/model-io";
import { CliError } from "../src/command";
import { runCli } from "./helpers";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../../..");
const stories260K = path.resolve(repoRoot, "../shared/fixtures/llama2c/stories260K.bin");
const haveStories = existsSync(stories260K);
const transformerFixtures = path.resolve(repoRoot, "packages/transformer/test/fixtures");

interface TinyFixture { config: Config; tokens: number[]; weights: Record<string, { data: number[] }>; logits: number[][] }
const tiny = JSON.parse(readFileSync(path.join(transformerFixtures, "tiny-llama-half.json"), "utf8")) as TinyFixture;
const stories = JSON.parse(readFileSync(path.join(transformerFixtures, "stories260k.json"), "utf8")) as {
  tokens: number[]; logits: number[][]; greedy: { prompt: number[]; continuation: number[] };
};

const tinyGpt2 = JSON.parse(readFileSync(path.join(transformerFixtures, "tiny-gpt2.json"), "utf8")) as TinyFixture;

function modelOf(fixture: TinyFixture): Model {
  const weights = allocateWeights(fixture.config, jsBackend);
  for (const [name, { data }] of Object.entries(fixture.weights)) weights.get(name).data.set(data);
  return new Model(fixture.config, weights);
}
const tinyModel = (): Model => modelOf(tiny);
const tinyGpt2Model = (): Model => modelOf(tinyGpt2);

const commands = (lines: string[] = []) => [evalLogitsCommand, generateCommand, benchCommand, makeChatCommand(() => Readable.from(lines.map((l) => `${l}\n`)))];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-cli-models-"));
const tinyGguf = path.join(dir, "tiny-llama.gguf");
beforeAll(async () => {
  await writeGgufModel(tinyGguf, tinyModel());
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("one context rule: past the model's context is a usage error unless --allow-context-overflow (RoPE models)", () => {
  const ids = (n: number): string => Array.from({ length: n }, (_, i) => String((i * 7 + 1) % 40)).join(",");

  it("eval logits: 40 tokens on a 32-token llama", async () => {
    const r = await runCli(["eval", "logits", "--model", tinyGguf, "--tokens", ids(40), "--backend", "js"], commands());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^zllm: --tokens: expected at most 32 tokens \(the model's context\), found 40; --allow-context-overflow runs a llama \(RoPE\) model past it\n/);
    const ok = await runCli(["eval", "logits", "--model", tinyGguf, "--tokens", ids(40), "--backend", "js", "--json", "--allow-context-overflow"], commands());
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as number[][]).length).toBe(40);
  });

  it("eval logits on gpt2: the flag cannot add learned positions", async () => {
    const gpt2 = path.join(dir, "tiny-gpt2-ctx.gguf");
    await writeGgufModel(gpt2, tinyGpt2Model());
    const r = await runCli(["eval", "logits", "--model", gpt2, "--tokens", ids(17), "--backend", "js", "--allow-context-overflow"], commands());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--tokens: expected at most 16 tokens, found 17; --allow-context-overflow cannot help a gpt2 model: it has 16 learned position embeddings/);
  });

  it("generate and chat", async () => {
    const g = await runCli(["generate", "--model", tinyGguf, "--ids", ids(40), "--greedy", "--max-tokens", "3", "--backend", "js"], commands());
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/^zllm: prompt: expected at most 32 tokens \(the model's context\), found 40; --allow-context-overflow/);
    const ok = await runCli(["generate", "--model", tinyGguf, "--ids", ids(40), "--greedy", "--max-tokens", "3", "--backend", "js", "--json", "--allow-context-overflow"], commands());
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as { tokens: number[] }).tokens.length).toBe(3);
    const chat = await runCli(["chat", "--model", tinyGguf, "--backend", "js", "--ctx", "40", "--allow-context-overflow", "--greedy", "--max-tokens", "2"], commands(["!#", ""]));
    expect(chat.code).toBe(0);
    expect(chat.stderr).toMatch(/context 40 tokens/);
  });
});

describe("zllm eval logits", () => {
  it.each(["js", "wasm"])("--json: one array per position, PyTorch's logits for a tiny Llama written as GGUF (%s backend)", async (backend) => {
    const r = await runCli(["eval", "logits", "--model", tinyGguf, "--tokens", tiny.tokens.join(","), "--json", "--backend", backend], commands());
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.endsWith("]\n")).toBe(true);
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(1);
    const rows = JSON.parse(r.stdout) as number[][];
    expect(rows).toHaveLength(tiny.tokens.length);
    rows.forEach((row, p) => expect(maxAbsDiff(row, tiny.logits[p]), `position ${p}`).toBeLessThan(1e-5));
  });

  it.skipIf(!haveStories)("stories260K llama2.c file: the numpy reference logits at every position", async () => {
    const r = await runCli(["eval", "logits", "--model", stories260K, "--tokens", stories.tokens.join(","), "--json"], commands());
    const rows = JSON.parse(r.stdout) as number[][];
    rows.forEach((row, p) => expect(maxAbsDiff(row, stories.logits[p]), `position ${p}`).toBeLessThan(1e-4));
  });

  it("text mode shows the top 5 per position; bad input is a usage error (exit 2) that names it", async () => {
    const r = await runCli(["eval", "logits", "--model", tinyGguf, "--tokens", "3,17", "--backend", "js"], commands());
    expect(r.stdout.split("\n")[0]).toMatch(/^position 0 token 3: (\d+ \(-?\d+\.\d{4}\), ){4}\d+ \(-?\d+\.\d{4}\)$/);
    const big = await runCli(["eval", "logits", "--model", tinyGguf, "--tokens", "3,40"], commands());
    expect(big.code).toBe(2);
    expect(big.stderr).toMatch(/token ids below the vocabulary size 40, found 40/);
    const junk = await runCli(["eval", "logits", "--model", tinyGguf, "--tokens", "3,x"], commands());
    expect(junk.code).toBe(2);
    expect(junk.stderr).toMatch(/found "x"/);
    const none = await runCli(["eval", "logits", "--tokens"], commands());
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--tokens needs a value/);
    const missing = await runCli(["eval", "logits", "--model", path.join(dir, "nope.gguf"), "--tokens", "3"], commands());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/found nothing/);
  });
});

describe("the embedded default model", () => {
  it("is models/default of the repository, found from the CLI's files (not the working directory)", () => {
    expect(DEFAULT_MODEL_PATH).toBe(path.join(repoRoot, "models", "default"));
    expect(existsSync(path.join(DEFAULT_MODEL_PATH, "model.safetensors"))).toBe(true);
    expect(modelPath({ positionals: [], flags: {} })).toBe(DEFAULT_MODEL_PATH);
    expect(modelPath({ positionals: [], flags: { model: tinyGguf } })).toBe(tinyGguf);
  });

  it("a missing default model directory is a clear runtime error naming it", () => {
    const missing = path.join(dir, "no-models", "default");
    let error: unknown;
    try {
      modelPath({ positionals: [], flags: {} }, missing);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).code).toBe("CLI_NO_DEFAULT_MODEL");
    expect((error as CliError).message).toContain(`expected ${missing} with config.json and model.safetensors`);
    expect((error as CliError).message).toContain("pass --model FILE");
  });

  it("generate, eval logits and eval ppl use it when --model is not given", async () => {
    const r = await runCli(["generate", "--max-tokens", "12", "--temperature", "0.8", "--seed", "1", "--backend", "js", "--json", "The jury said"], commands());
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { prompt: number[]; tokens: number[]; text: string };
    expect(out.prompt[0]).toBe(2047); // <|endoftext|>: bos_token_id of models/default/config.json
    expect(out.tokens.length).toBeGreaterThan(0);
    expect(out.text).toMatch(/[a-z]/);
    const logits = await runCli(["eval", "logits", "--tokens", "2047,464", "--json", "--backend", "js"], commands());
    expect(logits.code, logits.stderr).toBe(0);
    const rows = JSON.parse(logits.stdout) as number[][];
    expect(rows.map((row) => row.length)).toEqual([2048, 2048]);
    const heldOut = path.join(dir, "held-out.txt");
    writeFileSync(heldOut, "The jury said it did find that the election was conducted .\n");
    const ppl = await runCli(["eval", "ppl", "--data", heldOut, "--backend", "js", "--json"], [evalPplCommand]);
    expect(ppl.code, ppl.stderr).toBe(0);
    const p = JSON.parse(ppl.stdout) as { model: string; perplexity: number };
    expect(p.model).toBe(DEFAULT_MODEL_PATH);
    expect(p.perplexity).toBeLessThan(2048); // far below uniform over its vocabulary
    // the window may not exceed the model's 512-token context
    const long = await runCli(["eval", "ppl", "--data", heldOut, "--seq-len", "513"], [evalPplCommand]);
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/^zllm: --seq-len: expected at most 512 \(the model's context\), found 513\n/);
  }, 300_000);
});

describe("zllm generate", () => {
  it.skipIf(!haveStories)("--ids --greedy on stories260K continues as the reference, then prints speeds and time to first token", async () => {
    const r = await runCli(["generate", "--model", stories260K, "--ids", stories.greedy.prompt.join(","), "--greedy", "--max-tokens", "20"], commands());
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split(",").map(Number)).toEqual(stories.greedy.continuation);
    expect(r.stderr).toMatch(/^prompt: 3 tokens in [\d.]+ ms \([\d.]+ tokens\/s\) \| generation: 20 tokens in [\d.]+ ms \([\d.]+ tokens\/s\) \| time to first token: [\d.]+ ms \| stop: maxTokens \| sampling: greedy\n$/);
    const text = await runCli(["generate", "--model", stories260K, "Once"], commands());
    expect(text.code).toBe(2);
    expect(text.stderr).toMatch(/llama2\.c checkpoints carry none; pass --tokenizer FILE/);
  });

  it("text through the GGUF's own tokenizer; seeded sampling is reproducible; --json", async () => {
    // the GGUF holds a minimal byte-level vocabulary: ids 0…39 are bytes 0…39, so "!#" is [33, 35]
    const base = ["generate", "--model", tinyGguf, "!#", "--max-tokens", "8", "--backend", "js"];
    const greedy = await runCli([...base, "--greedy", "--json"], commands());
    const g = JSON.parse(greedy.stdout) as { prompt: number[]; tokens: number[]; text: string; stats: { generatedTokens: number } };
    expect(g.prompt).toEqual([33, 35]);
    expect(g.tokens).toEqual([...generate(tinyModel(), [33, 35], { maxTokens: 8, eos: 39 })]);
    expect(typeof g.text).toBe("string");
    const a = await runCli([...base, "--seed", "5", "--temperature", "1.5", "--json"], commands());
    const b = await runCli([...base, "--seed", "5", "--temperature", "1.5", "--json"], commands());
    expect((JSON.parse(a.stdout) as { tokens: number[] }).tokens).toEqual((JSON.parse(b.stdout) as { tokens: number[] }).tokens);
    const streamed = await runCli([...base, "--greedy"], commands());
    expect(streamed.code).toBe(0);
    expect(streamed.stderr).toMatch(/time to first token/);
  });

  it("a text prompt whose ids do not fit the model names the tokenizer, not --ids", async () => {
    // the default model's 2048-token tokenizer on the tiny model of 40 ids
    const foreign = path.join(DEFAULT_MODEL_PATH, "tokenizer.json");
    const r = await runCli(["generate", "--model", tinyGguf, "--tokenizer", foreign, "--backend", "js", "The jury"], commands());
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toMatch(/^zllm: prompt: --tokenizer \S+ gave token id \d+, expected ids below the model's vocabulary size 40 \(is it the model's tokenizer\?\)$/);
    expect(r.stderr).toContain(`--tokenizer ${foreign} gave`);
    expect(r.stderr.split("\n")[0]).not.toMatch(/--ids/);
    const ids = await runCli(["generate", "--model", tinyGguf, "--ids", "3,40", "--backend", "js"], commands());
    expect(ids.code).toBe(2);
    expect(ids.stderr).toMatch(/^zllm: --ids: expected token ids below the vocabulary size 40, found 40/);
  });
});

describe("zllm chat", () => {
  it("each line continues one KV cache; an empty line ends the session", async () => {
    const r = await runCli(["chat", "--model", tinyGguf, "--greedy", "--max-tokens", "4", "--backend", "js", "--stats"], commands(["!#", "$", "", "never read"]));
    expect(r.code).toBe(0);
    expect(r.stdout.split("> ")).toHaveLength(4); // three prompts shown: before line 1, line 2, and the empty line
    expect(r.stderr.match(/^prompt: /gm)).toHaveLength(2);
    expect(r.stderr).toMatch(/^chat: llama model, context 32 tokens, greedy/);
  });

  it("--ctx above the model's context is a usage error, not a silent cap", async () => {
    const r = await runCli(["chat", "--model", tinyGguf, "--backend", "js", "--ctx", "33"], commands(["!#", ""]));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^zllm: --ctx: expected at most 32 tokens \(the model's context\), found 33; --allow-context-overflow runs a llama \(RoPE\) model past it\n/);
    expect(r.stdout).toBe("");
  });

  it("with no --model, the embedded model answers a piped line", async () => {
    const r = await runCli(["chat", "--max-tokens", "8", "--seed", "3", "--backend", "js"], commands(["The jury said", ""]));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^chat: llama model, context 512 tokens/);
    const reply = r.stdout.split("> ")[1] ?? "";
    expect(reply.trim().length).toBeGreaterThan(0);
  }, 300_000);

  it("a full context starts over with an empty cache (--ctx)", async () => {
    const r = await runCli(["chat", "--model", tinyGguf, "--greedy", "--max-tokens", "4", "--backend", "js", "--ctx", "8"], commands(["!#", "$%&", ""]));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/context 8 tokens/);
    expect(r.stderr).toMatch(/\[context full: starting over\]/);
  });
});

describe("zllm bench", () => {
  it("--random 260K --json: pp and tg results with llama-bench's fields", async () => {
    const r = await runCli(["bench", "--random", "260K", "--pp", "16", "--tg", "8", "--reps", "2", "--json", "--backend", "js"], commands());
    expect(r.code).toBe(0);
    const results = JSON.parse(r.stdout) as BenchResult[];
    expect(results.map((x) => x.test)).toEqual(["pp16", "tg8"]);
    for (const x of results) {
      expect(x).toMatchObject({ model: "llama 260K shape (random)", backend: "js", threads: 1 });
      expect(x.samples_ts).toHaveLength(2);
      expect(x.avg_ts).toBeGreaterThan(0);
    }
    // embedding 512·64 + 5 × (2 norms 64 + q 64·64 + k, v 32·64 + o 64·64 + 3 × 172·64) + final norm 64
    expect(results[0].params).toBe(512 * 64 + 5 * (2 * 64 + 4096 + 2 * 2048 + 4096 + 3 * 172 * 64) + 64);
  });

  it("table output on a model file; exactly one model source", async () => {
    const r = await runCli(["bench", "--model", tinyGguf, "--pp", "8", "--tg", "4", "--reps", "1"], commands());
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^\| model +\| +params \| backend \| threads \| +test \| +t\/s \|$/);
    expect(lines).toHaveLength(4);
    expect(lines[2], lines[2]).toMatch(/\| llama tiny-llama\.gguf \(gguf\) .*\| +pp8 \| +[\d.]+ ± [\d.]+ \|$/);
    const both = await runCli(["bench", "--model", tinyGguf, "--random", "15M"], commands());
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/either --model FILE or --random/);
  });

  it("the label column widens to fit a long model label", async () => {
    const long = path.join(dir, "a-model-file-with-a-rather-long-name.gguf");
    await writeGgufModel(long, tinyModel());
    const r = await runCli(["bench", "--model", long, "--pp", "4", "--tg", "2", "--reps", "1", "--backend", "js"], commands());
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    const label = "llama a-model-file-with-a-rather-long-name.gguf (gguf)";
    expect(lines[2].startsWith(`| ${label} | `)).toBe(true);
    // every row of the table has the same width, so the columns line up
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
  });

  it("tests beyond the context: a usage error naming the flag; --allow-context-overflow runs them on a RoPE model only; default tests are skipped", async () => {
    const gpt2 = path.join(dir, "tiny-gpt2.gguf");
    await writeGgufModel(gpt2, tinyGpt2Model());
    const seq = tinyGpt2.config.seqLen;
    const g = await runCli(["bench", "--model", gpt2, "--pp", `4,${seq + 1}`, "--tg", "2", "--reps", "1", "--backend", "js", "--json"], commands());
    expect(g.code).toBe(2);
    expect(g.stdout).toBe("");
    expect(g.stderr).toMatch(new RegExp(`^zllm: --pp ${seq + 1}: expected at most ${seq} tokens \\(the model's context\\), found ${seq + 1}; a gpt2 model has ${seq} learned position embeddings`));
    const gAllowed = await runCli(["bench", "--model", gpt2, "--pp", `${seq + 1}`, "--reps", "1", "--backend", "js", "--allow-context-overflow"], commands());
    expect(gAllowed.code).toBe(2);
    const l = await runCli(["bench", "--model", tinyGguf, "--pp", "40", "--tg", "2", "--reps", "1", "--backend", "js", "--json"], commands());
    expect(l.code).toBe(2);
    expect(l.stderr).toMatch(/^zllm: --pp 40: expected at most 32 tokens \(the model's context\), found 40; --allow-context-overflow runs a llama \(RoPE\) model past it/);
    const allowed = await runCli(["bench", "--model", tinyGguf, "--pp", "40", "--tg", "2", "--reps", "1", "--backend", "js", "--json", "--allow-context-overflow"], commands());
    expect(allowed.code).toBe(0);
    expect((JSON.parse(allowed.stdout) as BenchResult[]).map((x) => x.test)).toEqual(["pp40", "tg2"]);
    expect(allowed.stderr).toMatch(/^bench: note: pp40 runs past the model's trained context \(32 tokens\); RoPE computes the positions/);
    // the defaults (pp128, pp512) do not fit a 32-token context: skipped with a note, tg2 runs
    const defaults = await runCli(["bench", "--model", tinyGguf, "--tg", "2", "--reps", "1", "--backend", "js", "--json"], commands());
    expect(defaults.code).toBe(0);
    expect((JSON.parse(defaults.stdout) as BenchResult[]).map((x) => x.test)).toEqual(["tg2"]);
    expect(defaults.stderr).toMatch(/^bench: skipped pp128 \(a default test\): it needs 128 positions, the model's context is 32; --pp 128 --allow-context-overflow runs it/);
  });
});
