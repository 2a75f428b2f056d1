import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { readPeftAdapter } from "@zero-llm/lora/node";
import { GgufFile } from "@zero-llm/tensor";
import { randomWeights, type Config } from "@zero-llm/transformer";
import { writeHfModel } from "@zero-llm/transformer/node";
import { describe, expect, it } from "vitest";
import { makeChatCommand } from "../src/commands/chat";
import { DEFAULT_MODEL_PATH } from "../src/commands/model-io";
import { runCli } from "./helpers";

/**
 * `zllm lora train | merge | export` and `--lora DIR[:scale]` on the model commands, with a small
 * JSONL of additions and a few steps each: the point is the commands' contract, not the skill
 * (packages/lora's tests and the shipped adapter show that). The base is a small random Llama
 * with the embedded model's tokenizer (a Hugging Face directory), so a step takes milliseconds.
 */

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), "zllm-cli-lora-"));
const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const hasModel = existsSync(path.join(DEFAULT_MODEL_PATH, "tokenizer.json"));

const CONFIG: Config = { arch: "llama", dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 2048, seqLen: 64, normEps: 1e-5, ropeTheta: 10000, ropeStyle: "half", tiedEmbeddings: true };
const modelDir = path.join(tmp(), "tiny");
if (hasModel) await writeHfModel(modelDir, { config: CONFIG, weights: randomWeights(CONFIG, { seed: 3 }) }, { tokenizer: readFileSync(path.join(DEFAULT_MODEL_PATH, "tokenizer.json"), "utf8") });
const MODEL = ["--model", modelDir];

function additions(n: number, seed: number): string {
  const lines: string[] = [];
  let s = seed;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 10 + (s % 90);
  };
  for (let i = 0; i < n; i++) {
    const a = next(), b = next();
    lines.push(JSON.stringify({ prompt: `Q: ${a} + ${b} = ? A:`, completion: ` ${a + b}` }));
  }
  return `${lines.join("\n")}\n`;
}

function setup(): { dir: string; data: string; out: string } {
  const dir = tmp();
  const data = path.join(dir, "add.jsonl");
  writeFileSync(data, additions(60, 7));
  return { dir, data, out: path.join(dir, "run") };
}

interface Event { type: string; step?: number; loss?: number; memory?: { trainableParameters: number; baseParameters: number; savedBytes: number } }
const events = (stdout: string): Event[] => stdout.trim().split("\n").map((l) => JSON.parse(l) as Event);
const TRAIN = [...MODEL, "--steps", "6", "--batch", "4", "--eval-every", "3", "--checkpoint-every", "3", "--lr", "0.005", "--backend", "js"];
const PROMPT = "Q: 23 + 48 = ? A:";

describe.skipIf(!hasModel)("zllm lora", () => {
  it("train: --json events with the trainable count and memory saved, a PEFT adapter directory, resume extends the run", async () => {
    const { data, out } = setup();
    const first = await runCli(["lora", "train", "--data", data, "--out", out, ...TRAIN, "--targets", "q_proj,v_proj,down_proj", "--rank", "4", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const evs = events(first.stdout);
    expect(evs[0]).toMatchObject({ type: "start", step: 0 });
    expect(evs[0].memory?.trainableParameters).toBe(2 * 4 * ((32 + 32) + (32 + 16) + (64 + 32))); // 2 layers, rank 4: q, v, down
    expect(evs[0].memory?.savedBytes).toBe(12 * ((evs[0].memory?.baseParameters ?? 0) - (evs[0].memory?.trainableParameters ?? 0)));
    expect(evs.filter((e) => e.type === "step")).toHaveLength(6);
    expect(readdirSync(out).sort()).toEqual(["adapter_config.json", "adapter_model.safetensors", "checkpoint.safetensors", "loss.csv"]);
    const adapter = await readPeftAdapter(out);
    expect(adapter.config).toMatchObject({ r: 4, alpha: 16, targetModules: ["q_proj", "v_proj", "down_proj"] });
    expect(adapter.modules.size).toBe(6);

    const again = await runCli(["lora", "train", "--data", data, "--out", out, ...TRAIN]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/holds the checkpoint of an earlier run: pass --resume/);
    const changed = await runCli(["lora", "train", ...MODEL, "--data", data, "--out", out, "--resume", "--rank", "8"]);
    expect(changed.code).toBe(2);
    expect(changed.stderr).toMatch(/--rank 8 differs from the checkpoint's 4/);
    const extended = await runCli(["lora", "train", ...MODEL, "--data", data, "--out", out, "--resume", "--steps", "8", "--backend", "js", "--quiet"]);
    expect(extended.code, extended.stderr).toBe(0);
    expect(extended.stdout).toMatch(/^done: step 8, validation loss \d/);
    expect(readFileSync(path.join(out, "loss.csv"), "utf8").trim().split("\n")).toHaveLength(9);
  }, 120_000);

  it("bad input is named: a target that matches nothing, rank 0, bad JSONL, a missing adapter", async () => {
    const { data, out, dir } = setup();
    const none = await runCli(["lora", "train", "--data", data, "--out", out, ...TRAIN, "--targets", "c_attn"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/lora target "c_attn": expected a module of that name, found none; this llama model's linear modules are q_proj, k_proj.*\(TARGET_NOT_FOUND\)/);
    const regex = await runCli(["lora", "train", "--data", data, "--out", out, ...TRAIN, "--target-regex", "model\\.layers\\.9\\..*"]);
    expect(regex.stderr).toMatch(/TARGET_NOT_FOUND/);
    const rank0 = await runCli(["lora", "train", "--data", data, "--out", out, ...TRAIN, "--rank", "0"]);
    expect(rank0.code).toBe(2);
    expect(rank0.stderr).toMatch(/--rank must be an integer in \[1, 4096\], found "0"/);
    const broken = path.join(dir, "broken.jsonl");
    writeFileSync(broken, `${additions(3, 1)}{"prompt": "x"}\n`);
    const bad = await runCli(["lora", "train", "--data", broken, "--out", out, ...TRAIN]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/line 4: expected \{"prompt": string, "completion": string\}.*\(BAD_DATA\)/);
    expect(existsSync(out)).toBe(false); // nothing written on bad input
    const missing = await runCli(["generate", ...MODEL, "--lora", path.join(dir, "nope"), "--max-tokens", "2", "x"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--lora .*nope: expected a PEFT adapter directory or a \.gguf adapter file, found nothing/);
  }, 120_000);

  it("--lora on generate, chat, eval logits, eval ppl and bench; merge agrees with --lora; export writes a llama.cpp adapter", async () => {
    const { data, out, dir } = setup();
    expect((await runCli(["lora", "train", "--data", data, "--out", out, ...TRAIN, "--targets", "all-linear", "--rank", "4", "--quiet"])).code).toBe(0);
    const greedy = [...MODEL, "--greedy", "--max-tokens", "8", "--backend", "js", "--json", PROMPT];
    const base = JSON.parse((await runCli(["generate", ...greedy])).stdout) as { tokens: number[] };
    const withLora = await runCli(["generate", "--lora", out, ...greedy]);
    expect(withLora.code, withLora.stderr).toBe(0);
    expect(withLora.stderr).toMatch(/^lora: .*run \(14 modules, rank 4, [\d,]+ parameters\) at scale 1\n/);
    const scaled0 = JSON.parse((await runCli(["generate", "--lora", `${out}:0`, ...greedy])).stdout) as { tokens: number[] };
    expect(scaled0.tokens).toEqual(base.tokens);
    // chat runs the same adapted model: its greedy reply to the prompt is generate's text
    const chat = await runCli(["chat", ...MODEL, "--lora", out, "--greedy", "--max-tokens", "8", "--backend", "js"], [makeChatCommand(() => Readable.from([`${PROMPT}\n`, "\n"]))]);
    expect(chat.code, chat.stderr).toBe(0);
    expect(chat.stderr).toMatch(/^lora: .*run \(14 modules, rank 4/m);
    expect(chat.stdout).toBe(`> ${(JSON.parse(withLora.stdout) as { text: string }).text}\n> \n`);

    const merged = path.join(dir, "merged.gguf");
    const m = await runCli(["lora", "merge", ...MODEL, "--lora", out, "--out", merged]);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toMatch(/^wrote .*merged\.gguf \(gguf, F32, llama, [\d,]+ parameters; tokenizer: byte-level BPE, 2048 tokens\); merged .*run \(14 modules, scale 1\)\n$/);
    const ids = "2047,48,25,220,50,51,220,43,220,52,56";
    const logits = async (extra: string[]): Promise<number[][]> => JSON.parse((await runCli(["eval", "logits", "--tokens", ids, "--json", "--backend", "js", ...extra])).stdout) as number[][];
    const adapted = await logits([...MODEL, "--lora", out]);
    const fromMerged = await logits(["--model", merged]);
    const baseLogits = await logits(MODEL);
    const diff = (a: number[][], b: number[][]): number => Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - (b[i]?.[j] ?? NaN)))));
    expect(diff(adapted, baseLogits)).toBeGreaterThan(1e-3);
    expect(diff(adapted, fromMerged)).toBeLessThan(1e-3);

    const text = path.join(dir, "held-out.txt");
    const lines = additions(20, 99).trim().split("\n").map((l) => JSON.parse(l) as { prompt: string; completion: string });
    writeFileSync(text, lines.map((l) => `${l.prompt}${l.completion}`).join("\n"));
    const ppl = (extra: string[]): Promise<{ perplexity: number }> => runCli(["eval", "ppl", "--data", text, "--json", "--backend", "js", ...extra]).then((r) => JSON.parse(r.stdout) as { perplexity: number });
    const [pMerged, pLora] = await Promise.all([ppl(["--model", merged]), ppl([...MODEL, "--lora", out])]);
    expect(pLora.perplexity).toBeCloseTo(pMerged.perplexity, 3);

    const bench = await runCli(["bench", ...MODEL, "--lora", out, "--pp", "16", "--tg", "4", "--reps", "1", "--json", "--backend", "js"]);
    expect(bench.code, bench.stderr).toBe(0);
    expect((JSON.parse(bench.stdout) as { model: string }[])[0]?.model).toMatch(/\+ 1 lora$/);

    const gguf = path.join(dir, "adapter.gguf");
    const e = await runCli(["lora", "export", ...MODEL, "--lora", out, "--out", gguf]);
    expect(e.code, e.stderr).toBe(0);
    const file = GgufFile.parse(readFileSync(gguf));
    expect([file.get("general.type"), file.get("adapter.type"), file.get("adapter.lora.alpha")]).toEqual(["adapter", "lora", 16]);
    expect(file.tensors).toHaveLength(2 * 14);
    const fromGguf = await logits([...MODEL, "--lora", gguf]);
    expect(diff(fromGguf, adapted)).toBeLessThan(1e-5);
  }, 240_000);

  it("--lora with a quantized KV cache and on a quantized model: the merged model's numbers, through the inference pass; a merged model quantizes", async () => {
    const { data, out, dir } = setup();
    expect((await runCli(["lora", "train", "--data", data, "--out", out, ...TRAIN, "--targets", "all-linear", "--rank", "4", "--quiet"])).code).toBe(0);
    const ids = "2047,48,25,220,50,51,220,43,220,52,56";
    const logits = async (extra: string[]): Promise<number[][]> => {
      const r = await runCli(["eval", "logits", "--tokens", ids, "--json", "--backend", "js", ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as number[][];
    };
    const diff = (a: number[][], b: number[][]): number => Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - (b[i]?.[j] ?? NaN)))));
    const text = path.join(dir, "held-out.txt");
    writeFileSync(text, additions(20, 99).trim().split("\n").map((l) => Object.values(JSON.parse(l) as Record<string, string>).join("")).join("\n"));
    const ppl = async (extra: string[]): Promise<number> => {
      const r = await runCli(["eval", "ppl", "--data", text, "--json", "--backend", "js", ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { perplexity: number }).perplexity;
    };

    // the cache types reach the adapted model's caches: the same logits as the merged model with that cache
    const merged = path.join(dir, "merged.gguf");
    expect((await runCli(["lora", "merge", ...MODEL, "--lora", out, "--out", merged])).code).toBe(0);
    const cache = ["--cache-type-k", "q8_0", "--cache-type-v", "q4_0"];
    const adaptedQuantCache = await logits([...MODEL, "--lora", out, ...cache]);
    expect(diff(adaptedQuantCache, await logits(["--model", merged, ...cache]))).toBeLessThan(1e-4);
    expect(diff(adaptedQuantCache, await logits([...MODEL, "--lora", out]))).toBeGreaterThan(1e-2); // the cache did change them
    // eval ppl with a quantized cache runs the adapters in the inference pass
    const [pCache, pMergedCache] = await Promise.all([ppl([...MODEL, "--lora", out, "--cache-type-k", "f16"]), ppl(["--model", merged, "--cache-type-k", "f16"])]);
    expect(Math.abs(pCache / pMergedCache - 1)).toBeLessThan(1e-5);

    // a Q8_0 model keeps its blocks and runs the adapters beside them; the reference is the same
    // adapters merged into its decoded matrices (f32): they differ only by the Q8_0 kernels'
    // 8-bit activations, far less than the adapters' own effect
    const q8 = path.join(dir, "q8.gguf");
    expect((await runCli(["quantize", ...MODEL, "--type", "q8_0", "--out", q8])).code).toBe(0);
    const mergedQ8 = path.join(dir, "merged-q8.gguf");
    const m = await runCli(["lora", "merge", "--model", q8, "--lora", out, "--out", mergedQ8]);
    expect(m.code, m.stderr).toBe(0);
    const adaptedQ8 = await logits(["--model", q8, "--lora", out]);
    const effect = diff(adaptedQ8, await logits(["--model", q8]));
    expect(diff(adaptedQ8, await logits(["--model", mergedQ8]))).toBeLessThan(effect / 10);
    const [pQ8Lora, pMergedQ8, pQ8] = await Promise.all([ppl(["--model", q8, "--lora", out]), ppl(["--model", mergedQ8]), ppl(["--model", q8])]);
    expect(Math.abs(pQ8Lora / pMergedQ8 - 1)).toBeLessThan(Math.abs(pQ8 / pMergedQ8 - 1) / 5);
    const g = await runCli(["generate", "--model", q8, "--lora", out, ...cache, "--greedy", "--max-tokens", "4", "--backend", "js", PROMPT]);
    expect(g.code, g.stderr).toBe(0);

    // a merged model quantizes like any model: Q8_0 of the merged f32 model, close to it
    const mergedThenQ8 = path.join(dir, "merged-then-q8.gguf");
    expect((await runCli(["quantize", "--model", merged, "--type", "q8_0", "--out", mergedThenQ8])).code).toBe(0);
    const fromMerged = await logits(["--model", merged]);
    expect(diff(await logits(["--model", mergedThenQ8]), fromMerged)).toBeLessThan(diff(fromMerged, await logits(MODEL)) / 10);
  }, 240_000);

  it.skipIf(!existsSync(cli))("a run killed mid-way (SIGKILL) and resumed ends with the adapter of an uninterrupted run, bit for bit", async () => {
    const { data } = setup();
    const flags = [...MODEL, "--data", data, "--steps", "16", "--batch", "4", "--checkpoint-every", "2", "--eval-every", "8", "--lr", "0.005", "--dropout", "0.1", "--backend", "js"];
    const straight = path.join(tmp(), "straight");
    expect((await runCli(["lora", "train", "--out", straight, ...flags, "--quiet"])).code).toBe(0);
    const { out } = setup();
    const child = spawn(process.execPath, [cli, "lora", "train", "--out", out, ...flags, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
    await new Promise<void>((resolve) => {
      let buffered = "";
      child.stdout.on("data", (chunk: Buffer) => {
        buffered += chunk.toString();
        if (buffered.includes('"type":"checkpoint"')) child.kill("SIGKILL");
      });
      child.on("exit", () => resolve());
    });
    const resumed = await runCli(["lora", "train", ...MODEL, "--out", out, "--data", data, "--resume", "--backend", "js", "--quiet"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/^done: step 16,/);
    const weights = (dir: string): Buffer => readFileSync(path.join(dir, "adapter_model.safetensors"));
    expect(weights(out).equals(weights(straight))).toBe(true);
  }, 180_000);
});
