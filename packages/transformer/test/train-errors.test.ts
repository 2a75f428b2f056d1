import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  TokenDataset, TransformerError, TransformerLM, checkDataLength, defaultWarmup, modelConfig, parseCheckpoint, perplexity, requiredTokens, resolveSettings, type Config,
} from "../src/index";
import { removeStaleTempFiles, trainRun } from "../src/node/index";

const tmp = (): string => mkdtempSync(path.join(tmpdir(), "zllm-train-err-"));

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof TransformerError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return "no error";
}

async function codeAsync(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof TransformerError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return "no error";
}

const tokens = Array.from({ length: 2000 }, (_, i) => (i * 13) % 50);
const tiny = (over: Partial<Config> = {}): Config => modelConfig({ dim: 16, nLayers: 1, nHeads: 2, vocabSize: 50, seqLen: 8, ...over });
const quick = resolveSettings({ steps: 4, batchSize: 2, warmupSteps: 1, evalEvery: 0, evalWindows: 2, checkpointEvery: 2 });

describe("bad input is a typed error before any work", () => {
  it("dim not divisible by heads", () => {
    expect(code(() => modelConfig({ dim: 30, nHeads: 4, vocabSize: 10 }))).toMatch(/^BAD_CONFIG: .*dim divisible by nHeads \(4\), found 30/);
  });

  it("heads not divisible by kv heads", () => {
    expect(code(() => modelConfig({ dim: 32, nHeads: 4, nKvHeads: 3, vocabSize: 10 }))).toMatch(/^BAD_CONFIG: .*nKvHeads dividing nHeads \(4\), found 3/);
  });

  it("bad optimizer settings", () => {
    expect(code(() => resolveSettings({ lr: -1 }))).toMatch(/^BAD_CONFIG: .*lr > 0, found -1/);
    expect(code(() => resolveSettings({ steps: 10, warmupSteps: 20 }))).toMatch(/^BAD_CONFIG: .*warmupSteps <= steps \(10\)/);
  });

  it("the default warmup fits short runs: min(100, floor(steps / 10))", () => {
    expect(resolveSettings({ steps: 5 }).warmupSteps).toBe(0);
    expect(resolveSettings({ steps: 57 }).warmupSteps).toBe(5);
    expect(resolveSettings({ steps: 5000 }).warmupSteps).toBe(100);
    expect(resolveSettings({}).warmupSteps).toBe(defaultWarmup(1000));
    expect(resolveSettings({ steps: 5, warmupSteps: 3 }).warmupSteps).toBe(3); // an explicit one is kept
    expect(code(() => resolveSettings({ steps: 5, warmupSteps: 6 }))).toMatch(/^BAD_CONFIG: .*warmupSteps <= steps \(5\), found 6/);
  });

  it("requiredTokens is the exact shortest stream TokenDataset accepts", () => {
    for (const [seqLen, valFraction] of [[8, 0.1], [16, 0.05], [7, 0.5], [128, 0.3], [3, 0.9]] as const) {
      const need = requiredTokens(seqLen, valFraction);
      const stream = Array.from({ length: need }, (_, i) => i % 50);
      expect(() => new TokenDataset(stream, 50, { seqLen, valFraction })).not.toThrow();
      expect(code(() => new TokenDataset(stream.slice(1), 50, { seqLen, valFraction }))).toMatch(new RegExp(`^DATA_TOO_SHORT: .*at least ${need} tokens`));
    }
    expect(code(() => checkDataLength(80, 8, 0.1, "bytes"))).toMatch(/^DATA_TOO_SHORT: .*at least 90 tokens.*found 80 bytes$/);
    expect(code(() => requiredTokens(8, 1))).toMatch(/^BAD_CONFIG/);
  });

  it("perplexity: a window longer than the model's context is CONTEXT_OVERFLOW, not silently shortened", () => {
    const model = new TransformerLM(tiny(), { seed: 1 });
    expect(code(() => perplexity(model, tokens.slice(0, 40), { seqLen: 9 }))).toMatch(/^CONTEXT_OVERFLOW: perplexity: expected seqLen an integer in \[1, 8\] \(the model's context\), found 9$/);
    expect(code(() => perplexity(model, tokens.slice(0, 40), { seqLen: 0 }))).toMatch(/^BAD_CONFIG/);
    expect(perplexity(model, tokens.slice(0, 40), { seqLen: 8 }).tokens).toBe(39);
  });

  it("an empty or too-short token stream", () => {
    expect(code(() => new TokenDataset([], 50, { seqLen: 8 }))).toMatch(/^DATA_TOO_SHORT: .*found 0/);
    expect(code(() => new TokenDataset(tokens.slice(0, 40), 50, { seqLen: 8 }))).toMatch(/^DATA_TOO_SHORT: .*at least 90 tokens.*found 40/);
  });

  it("a token id outside the vocabulary", () => {
    expect(code(() => new TokenDataset([...tokens, 99], 50, { seqLen: 8 }))).toMatch(/^BAD_TOKEN: .*\[0, 50\), found 99/);
  });

  it("a corrupt or truncated checkpoint", async () => {
    const dir = tmp();
    await trainRun({ outDir: dir, tokens, config: tiny(), settings: quick });
    const bytes = readFileSync(path.join(dir, "checkpoint.safetensors"));
    expect(code(() => parseCheckpoint(bytes.subarray(0, bytes.length - 100)))).toMatch(/^BAD_CHECKPOINT: checkpoint: expected a complete safetensors file/);
    expect(code(() => parseCheckpoint(new Uint8Array(16)))).toMatch(/^BAD_CHECKPOINT/);
    writeFileSync(path.join(dir, "checkpoint.safetensors"), bytes.subarray(0, 1000));
    expect(await codeAsync(() => trainRun({ outDir: dir, tokens, config: tiny(), settings: quick, resume: true }))).toMatch(/^BAD_CHECKPOINT/);
  });

  it("resuming on other data", async () => {
    const dir = tmp();
    await trainRun({ outDir: dir, tokens, config: tiny(), settings: quick, stopAtStep: 2 });
    const other = tokens.map((t) => (t + 1) % 50);
    expect(await codeAsync(() => trainRun({ outDir: dir, tokens: other, config: tiny(), settings: quick, resume: true }))).toMatch(/^RESUME_MISMATCH: .*fingerprint/);
  });

  it("resuming with fewer steps than the checkpoint has done", async () => {
    const dir = tmp();
    await trainRun({ outDir: dir, tokens, config: tiny(), settings: quick, stopAtStep: 2 });
    expect(await codeAsync(() => trainRun({ outDir: dir, tokens, config: tiny(), settings: quick, resume: true, resumeSettings: { steps: 1 } })))
      .toMatch(/^BAD_CONFIG: resume: expected steps >= the 2 steps the checkpoint has done, found 1$/);
  });

  it("stale temporary files of a killed writer are removed; a live writer's and foreign files are kept", async () => {
    const dir = tmp();
    // pids above Linux's pid_max (2^22) cannot belong to a running process
    const dead = ["checkpoint.safetensors.99999991.m1abc.0.tmp", "tokenizer.bpe.json.99999992.zz.3.tmp", "loss.csv.99999993.k.12.tmp"];
    const kept = [`config.json.${process.pid}.m1abc.0.tmp`, "notes.txt.99999991.m1abc.0.tmp", "checkpoint.safetensors.tmp", "model.safetensors"];
    for (const name of [...dead, ...kept]) writeFileSync(path.join(dir, name), "x");
    expect((await removeStaleTempFiles(dir)).sort()).toEqual([...dead].sort());
    for (const name of dead) expect(existsSync(path.join(dir, name)), name).toBe(false);
    for (const name of kept) expect(existsSync(path.join(dir, name)), name).toBe(true);
    expect(await removeStaleTempFiles(path.join(dir, "missing"))).toEqual([]);
    // trainRun cleans up before it writes
    writeFileSync(path.join(dir, dead[0]), "x");
    await trainRun({ outDir: dir, tokens, config: tiny(), settings: quick });
    expect(existsSync(path.join(dir, dead[0]))).toBe(false);
  });

  it("a NaN loss stops the run with a clear message and leaves the last checkpoint intact", async () => {
    const dir = tmp();
    // lr 1e30: the first update throws the weights to ~1e30, the next forward overflows float32
    const explosive = resolveSettings({ ...quick, lr: 1e30, minLr: 0, warmupSteps: 0, checkpointEvery: 1 });
    const message = await codeAsync(() => trainRun({ outDir: dir, tokens, config: tiny(), settings: explosive }));
    expect(message).toMatch(/^TRAIN_NAN: train: expected a finite loss and gradient at step 2, found loss (NaN|Infinity).*no update was applied; training stopped, the last checkpoint \(step 1\) in .* is intact/);
    const state = parseCheckpoint(readFileSync(path.join(dir, "checkpoint.safetensors")));
    expect(state.step).toBe(1);
  });
});
