import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readCheckpointFile } from "@zero-llm/transformer/node";
import { describe, expect, it } from "vitest";
import { DEFAULT_MODEL_PATH } from "../src/commands/model-io";
import { runCli } from "./helpers";

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), "zllm-cli-train-"));
const text = "The cat sat on the mat. The dog sat on the log. A bird sang in the tree.\n".repeat(60);
const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

// a tiny Llama: one training step takes milliseconds on the js backend
const MODEL = ["--vocab", "280", "--dim", "32", "--layers", "1", "--heads", "2", "--kv-heads", "1", "--seq-len", "16", "--batch", "4", "--backend", "js"];

function setup(): { dir: string; data: string; out: string } {
  const dir = tmp();
  const data = path.join(dir, "data.txt");
  writeFileSync(data, text);
  return { dir, data, out: path.join(dir, "run") };
}

interface Event { type: string; step?: number; lr?: number; loss?: number; valLoss?: number }
const events = (stdout: string): Event[] => stdout.trim().split("\n").map((l) => JSON.parse(l) as Event);
const weights = (out: string): Buffer => readFileSync(path.join(out, "model.safetensors"));
/** loss.csv without its timing column (tokens_per_s), which no two runs share. */
const curve = (out: string): string[] => readFileSync(path.join(out, "loss.csv"), "utf8").trim().split("\n").map((l) => l.split(",").filter((_, i) => i !== 4).join(","));

describe("zllm train / zllm eval ppl", () => {
  it("trains with --json progress, resumes, exports a model that eval ppl and generate read", async () => {
    const { dir, data, out } = setup();
    const common = ["--out", out, "--data", data, "--backend", "js"];
    const config = path.join(dir, "train.json");
    writeFileSync(config, JSON.stringify({ vocab: 280, dim: 32, layers: 1, heads: 2, "kv-heads": 1, "seq-len": 16, steps: 24, batch: 4, warmup: 2, "eval-every": 12, "checkpoint-every": 12, lr: 0.01 }));
    const first = await runCli(["train", ...common, "--config", config, "--steps", "12", "--json"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const evs = events(first.stdout);
    expect(evs[0].type).toBe("start");
    expect(evs.filter((e) => e.type === "step")).toHaveLength(12);
    expect(evs.at(-1)).toMatchObject({ type: "done", step: 12 });
    // every file is in place and no temporary file is left
    expect(readdirSync(out).sort()).toEqual(["checkpoint.safetensors", "config.json", "loss.csv", "model.safetensors", "tokenizer.bpe.json", "tokenizer.json"]);

    // --steps from the command line won over the file's 24; a resume with no flags keeps that run's settings
    const resumed = await runCli(["train", ...common, "--resume", "--quiet"]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^done: step 12, validation loss/);
    expect(readFileSync(path.join(out, "loss.csv"), "utf8").trim().split("\n")).toHaveLength(13);

    const ppl = await runCli(["eval", "ppl", "--model", out, "--data", data, "--backend", "js", "--json"]);
    expect(ppl.code).toBe(0);
    const r = JSON.parse(ppl.stdout) as { loss: number; perplexity: number; tokens: number };
    expect(r.perplexity).toBeCloseTo(Math.exp(r.loss), 8);
    expect(r.perplexity).toBeLessThan(280); // below uniform over the 280-token vocabulary
    const long = await runCli(["eval", "ppl", "--model", out, "--data", data, "--seq-len", "17"]);
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/^zllm: --seq-len: expected at most 16 \(the model's context\), found 17\n/);
    const gen = await runCli(["generate", "--model", out, "--backend", "js", "--max-tokens", "5", "--seed", "1", "The cat"]);
    expect(gen.code).toBe(0);
  }, 300_000);

  it("--steps 5 works with the default warmup (min(100, steps/10))", async () => {
    const { data, out } = setup();
    const r = await runCli(["train", "--out", out, "--data", data, ...MODEL, "--steps", "5", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const rates = events(r.stdout).filter((e) => e.type === "step").map((e) => e.lr!);
    expect(rates).toHaveLength(5);
    // no warmup: the cosine from lr 1e-3 at step 0 towards min-lr 1e-4 at step 5
    rates.forEach((lr, i) => expect(lr).toBeCloseTo(1e-4 + 0.5 * (1 + Math.cos((Math.PI * i) / 5)) * 9e-4, 12));
  }, 300_000);

  it("refuses bad flags before any work, as usage errors (exit 2)", async () => {
    const { dir, data } = setup();
    const out = path.join(dir, "r");
    const bad = await runCli(["train", "--out", out, "--data", data, "--dim", "30", "--heads", "4"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^zllm: .*dim divisible by nHeads \(4\), found 30 \(BAD_CONFIG\)\n/);
    const warm = await runCli(["train", "--out", out, "--data", data, "--steps", "5", "--warmup", "6"]);
    expect(warm.code).toBe(2);
    expect(warm.stderr).toMatch(/^zllm: .*warmupSteps <= steps \(5\), found 6 \(BAD_CONFIG\)\n/);
    const none = await runCli(["train", "--out", out]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--data FILE or --brown/);
    writeFileSync(path.join(dir, "empty.txt"), "");
    const empty = await runCli(["train", "--out", out, "--data", path.join(dir, "empty.txt")]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/empty file/);
    expect(existsSync(out)).toBe(false);
  });

  it("data too short is refused before a tokenizer is trained or anything is written", async () => {
    const { dir } = setup();
    const out = path.join(dir, "r");
    const short = path.join(dir, "short.txt");
    writeFileSync(short, "hello world");
    const bytes = await runCli(["train", "--out", out, "--data", short, ...MODEL]);
    expect(bytes.code).toBe(2);
    // seq-len 16, 10 % validation: 17 tokens in each part need a stream of 170
    expect(bytes.stderr.split("\n")[0]).toBe(`zllm: --data ${short}: data: expected at least 170 tokens (one window of seqLen + 1 = 17 in both the training and the 0.1 validation part), found 12 tokens at most (11 UTF-8 bytes) (DATA_TOO_SHORT)`);
    expect(existsSync(out)).toBe(false);
    // long enough in bytes, too short in tokens (" the" is one token of the default model's BPE)
    const few = path.join(dir, "few.txt");
    writeFileSync(few, "the".concat(" the".repeat(120)));
    const tokens = await runCli(["train", "--out", out, "--data", few, "--tokenizer", path.join(DEFAULT_MODEL_PATH, "tokenizer.bpe.json"), "--dim", "32", "--layers", "1", "--heads", "2", "--seq-len", "16", "--backend", "js"]);
    expect(tokens.code).toBe(2);
    expect(tokens.stderr).toMatch(/^zllm: --data .*few\.txt: data: expected at least 170 tokens .*found 121 tokens \(DATA_TOO_SHORT\)\n/);
    expect(existsSync(out)).toBe(false);
  });

  it("--vocab larger than the text supports is an error, not a smaller vocabulary", async () => {
    const { data, out } = setup();
    const r = await runCli(["train", "--out", out, "--data", data, ...MODEL.slice(2), "--vocab", "400", "--steps", "2"]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe("zllm: --vocab 400: the training text has pairs for only 290 tokens (256 bytes + merges + <|endoftext|>); pass --vocab 290 or more text");
    expect(existsSync(out)).toBe(false);
  });

  it("a leftover tokenizer.bpe.json of another size is an error naming both; of the same size it is reused, said on stderr", async () => {
    const { dir, data } = setup();
    const first = path.join(dir, "first");
    expect((await runCli(["train", "--out", first, "--data", data, ...MODEL, "--steps", "2", "--quiet"])).code).toBe(0);
    const out = path.join(dir, "run");
    mkdirSync(out);
    copyFileSync(path.join(first, "tokenizer.bpe.json"), path.join(out, "tokenizer.bpe.json"));
    const other = await runCli(["train", "--out", out, "--data", data, ...MODEL.slice(2), "--vocab", "270", "--steps", "2"]);
    expect(other.code).toBe(2);
    expect(other.stderr.split("\n")[0]).toBe(`zllm: ${path.join(out, "tokenizer.bpe.json")} (left by an earlier run) has 280 tokens, --vocab is 270: pass --vocab 280 to reuse it, or delete it to train a new one`);
    const byDefault = await runCli(["train", "--out", out, "--data", data, ...MODEL.slice(2), "--steps", "2"]);
    expect(byDefault.code).toBe(2);
    expect(byDefault.stderr).toMatch(/has 280 tokens, --vocab is 2048 \(the default\)/);
    expect(readdirSync(out)).toEqual(["tokenizer.bpe.json"]);
    const same = await runCli(["train", "--out", out, "--data", data, ...MODEL, "--steps", "2"]);
    expect(same.code).toBe(0);
    expect(same.stderr).toMatch(/^reusing .*tokenizer\.bpe\.json \(280 tokens\) left by an earlier run/);
  }, 300_000);

  it("stale temporary files of a killed run are removed at the start of the next", async () => {
    const { data, out } = setup();
    mkdirSync(out);
    const stale = ["checkpoint.safetensors.99999991.m3x9.0.tmp", "tokenizer.json.99999992.m3xa.1.tmp"];
    for (const name of stale) writeFileSync(path.join(out, name), "partial");
    const r = await runCli(["train", "--out", out, "--data", data, ...MODEL, "--steps", "2"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`removed 2 temporary file(s) an interrupted run left in ${out}`);
    expect(readdirSync(out).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  }, 300_000);
});

describe("zllm train --resume", () => {
  it("a directory with a checkpoint needs --resume; --resume needs one", async () => {
    const { data, out } = setup();
    expect((await runCli(["train", "--out", out, "--data", data, ...MODEL, "--steps", "2", "--quiet"])).code).toBe(0);
    const again = await runCli(["train", "--out", out, "--data", data, ...MODEL, "--steps", "2"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/holds the checkpoint of an earlier run: pass --resume to continue it/);
    const nothing = await runCli(["train", "--out", path.join(out, "nope"), "--data", data, "--resume"]);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/--resume: expected .*checkpoint\.safetensors, found none/);
  }, 300_000);

  it("a model or optimizer flag that differs from the checkpoint is a usage error naming the flag and both values", async () => {
    const { dir, data, out } = setup();
    expect((await runCli(["train", "--out", out, "--data", data, ...MODEL, "--steps", "4", "--lr", "0.01", "--quiet"])).code).toBe(0);
    const resume = (...flags: string[]) => runCli(["train", "--out", out, "--data", data, "--resume", "--backend", "js", ...flags]);
    const cases: [string[], string][] = [
      [["--lr", "0.02"], "--lr 0.02 differs from the checkpoint's 0.01"],
      [["--dim", "64"], "--dim 64 differs from the checkpoint's 32"],
      [["--arch", "gpt2"], "--arch gpt2 differs from the checkpoint's llama"],
      [["--vocab", "300"], "--vocab 300 differs from the checkpoint's 280"],
      [["--seed", "7"], "--seed 7 differs from the checkpoint's 1337"],
      [["--untied"], "--untied differs from the checkpoint's tied embeddings"],
      [["--steps", "3"], "--steps 3: expected at least the 4 steps the checkpoint has done"],
    ];
    for (const [flags, message] of cases) {
      const r = await resume(...flags);
      expect(r.code, flags.join(" ")).toBe(2);
      expect(r.stderr.split("\n")[0]).toContain(`zllm: ${message}`);
    }
    // a value from --config counts as given; the same values as the checkpoint's are fine
    const config = path.join(dir, "resume.json");
    writeFileSync(config, JSON.stringify({ batch: 8 }));
    const fromFile = await resume("--config", config);
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toMatch(/^zllm: --batch 8 differs from the checkpoint's 4/);
    const same = await resume(...MODEL.slice(0, -2), "--lr", "0.01", "--quiet"); // every flag as the checkpoint has it
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/^done: step 4,/);
  }, 300_000);

  it("a corrupt checkpoint is reported before the training text is even read", async () => {
    const { data, out } = setup();
    expect((await runCli(["train", "--out", out, "--data", data, ...MODEL, "--steps", "2", "--quiet"])).code).toBe(0);
    writeFileSync(path.join(out, "checkpoint.safetensors"), readFileSync(path.join(out, "checkpoint.safetensors")).subarray(0, 500));
    const r = await runCli(["train", "--out", out, "--data", path.join(out, "no-such-text.txt"), "--resume"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^zllm: checkpoint: expected a complete safetensors file.* \(BAD_CHECKPOINT\)\n$/);
  });

  it("--steps extends a finished run; with a flat schedule that equals an uninterrupted run bit for bit", async () => {
    const { data } = setup();
    const flat = [...MODEL, "--lr", "0.005", "--min-lr", "0.005", "--warmup", "0", "--checkpoint-every", "2", "--eval-every", "3"];
    const straight = path.join(tmp(), "straight");
    expect((await runCli(["train", "--out", straight, "--data", data, ...flat, "--steps", "12", "--quiet"])).code).toBe(0);
    const { out } = setup();
    expect((await runCli(["train", "--out", out, "--data", data, ...flat, "--steps", "6", "--quiet"])).code).toBe(0);
    const extended = await runCli(["train", "--out", out, "--data", data, "--resume", "--steps", "12", "--backend", "js"]);
    expect(extended.code, extended.stderr).toBe(0);
    expect(extended.stderr).toMatch(/^changing the run from 6 to 12 steps at step 6: the warmup \+ cosine schedule is redefined over 12 steps from step 7 on\n/);
    expect(extended.stdout).toMatch(/^done: step 12,/);
    expect(weights(out).equals(weights(straight))).toBe(true);
    expect(curve(out)).toEqual(curve(straight));
    expect((await readCheckpointFile(path.join(out, "checkpoint.safetensors"))).settings.steps).toBe(12);
  }, 300_000);

  it("with a cosine schedule, the extended steps follow the schedule over the new total", async () => {
    const { data } = setup();
    const cosine = [...MODEL, "--lr", "0.01", "--min-lr", "0.001", "--warmup", "2"];
    const straight = await runCli(["train", "--out", path.join(tmp(), "s"), "--data", data, ...cosine, "--steps", "12", "--json"]);
    const { out } = setup();
    expect((await runCli(["train", "--out", out, "--data", data, ...cosine, "--steps", "6", "--quiet"])).code).toBe(0);
    const extended = await runCli(["train", "--out", out, "--data", data, "--resume", "--steps", "12", "--backend", "js", "--json"]);
    const rates = (stdout: string): number[] => events(stdout).filter((e) => e.type === "step").map((e) => e.lr!);
    expect(rates(extended.stdout)).toEqual(rates(straight.stdout).slice(6));
  }, 300_000);

  it.skipIf(!existsSync(cli))("a run killed mid-way (SIGKILL) and resumed equals an uninterrupted run bit for bit", async () => {
    const { data } = setup();
    const flags = [...MODEL, "--steps", "60", "--checkpoint-every", "2", "--eval-every", "10", "--lr", "0.01", "--warmup", "5"];
    const straight = path.join(tmp(), "straight");
    expect((await runCli(["train", "--out", straight, "--data", data, ...flags, "--quiet"])).code).toBe(0);

    const { out } = setup();
    const child = spawn(process.execPath, [cli, "train", "--out", out, "--data", data, ...flags, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
    await new Promise<void>((resolve) => {
      let buffered = "";
      child.stdout.on("data", (chunk: Buffer) => {
        buffered += chunk.toString();
        // the first checkpoint is on disk: kill at once, whatever the run is doing
        if (buffered.includes('"type":"checkpoint"')) child.kill("SIGKILL");
      });
      child.on("exit", () => resolve());
    });
    const killedAt = (await readCheckpointFile(path.join(out, "checkpoint.safetensors"))).step;
    expect(killedAt).toBeGreaterThanOrEqual(2);
    expect(killedAt).toBeLessThan(60);

    const resumed = await runCli(["train", "--out", out, "--data", data, "--resume", "--backend", "js", "--quiet"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/^done: step 60,/);
    expect(weights(out).equals(weights(straight))).toBe(true);
    expect(curve(out)).toEqual(curve(straight));
  }, 300_000);
});
