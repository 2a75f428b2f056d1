// `zllm quantize`, `zllm eval quant` and --cache-type-k / --cache-type-v (issue 14): the embedded
// model written in every block type and run as it is, the quality report's fields, and the KV
// cache flags reaching the caches of the model commands (eval logits, eval ppl, bench).
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { GgufReader, jsBackend } from "@zero-llm/tensor";
import { openFileSource } from "@zero-llm/tensor/node";
import { openCheckpoint } from "@zero-llm/transformer/node";
import { afterAll, describe, expect, it } from "vitest";
import { benchCommand, type BenchResult } from "../src/commands/bench";
import { evalLogitsCommand } from "../src/commands/eval-logits";
import { evalPplCommand } from "../src/commands/eval-ppl";
import { evalQuantCommand } from "../src/commands/eval-quant";
import { exportCommand } from "../src/commands/export";
import { quantizeCommand } from "../src/commands/quantize";
import { runCli } from "./helpers";

const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-quantize-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const commands = [quantizeCommand, evalQuantCommand, evalPplCommand, evalLogitsCommand, benchCommand, exportCommand];

// held-out text in the Brown corpus's style (the embedded model's training data)
const heldOut = path.join(dir, "held-out.txt");
writeFileSync(heldOut, "The jury said it did find that many of Georgia's registration and election laws `` are outmoded or inadequate and often ambiguous '' .\n".repeat(6));

describe("zllm quantize", () => {
  it.each([["q8_0", "Q8_0", 8.53], ["q4_0", "Q4_0", 4.53], ["q4_1", "Q4_1", 5.03], ["q4_k", "Q4_1", 5.03]] as const)(
    "--type %s: every matrix in %s (Q4_K falls back where rows are not whole 256-blocks), vectors f32, the summary",
    async (type, stored, bits) => {
      const out = path.join(dir, `default-${type}.gguf`);
      const r = await runCli(["quantize", "--type", type, "--out", out], commands);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/quantizing \[#{30}\] 38\/38 tensors\n$/);
      expect(r.stdout).toMatch(new RegExp(`^wrote .*default-${type}\\.gguf \\(${type.toUpperCase()}; llama, 1,049,728 parameters; tokenizer: byte-level BPE, 2048 tokens\\)\\n`));
      expect(r.stdout).toContain(`tensors: 29 ${stored}, 9 F32\n`);
      expect(r.stdout).toMatch(new RegExp(`weights: 4\\.20 MB → [0-9.]+ MB \\(32\\.00 → ${bits.toFixed(2)} bits per weight, [0-9.]+× smaller\\)\\n`));
      expect(r.stdout).toMatch(/file: 4\.\d\d MB → [0-9.]+ MB in [0-9.]+ s\n$/);
      const reader = await GgufReader.open(await openFileSource(out));
      try {
        for (const t of reader.tensors) expect(t.type.name, t.name).toBe(t.shape.length === 2 ? stored : "F32");
      } finally {
        await reader.close(); // else node closes its file handle at garbage collection, with a warning
      }
      expect(statSync(out).size).toBeLessThan(1.3e6);
      // it runs as it is: kept quantized in memory, greedy text from its own tokenizer
      const back = await openCheckpoint(out, { backend: jsBackend });
      expect(back.model.weights.typeOf("model.layers.3.mlp.down_proj.weight")).toBe(stored.toLowerCase());
    },
    300_000,
  );

  it("reads any format (a quantized GGUF too: its blocks are kept) and refuses what it cannot write", async () => {
    const q8 = path.join(dir, "default-q8_0.gguf");
    await runCli(["quantize", "--type", "q8_0", "--out", q8], commands);
    const again = path.join(dir, "again-q8_0.gguf");
    expect((await runCli(["quantize", "--model", q8, "--type", "q8_0", "--out", again], commands)).code).toBe(0);
    const a = statSync(q8).size, b = statSync(again).size;
    expect(b).toBe(a);
    for (const argv of [["quantize", "--out", path.join(dir, "x.gguf")], ["quantize", "--type", "q5_0", "--out", path.join(dir, "x.gguf")], ["quantize", "--type", "q8_0"], ["quantize", "--type", "q8_0", "--out", path.join(dir, "x.bin")]]) {
      const r = await runCli(argv, commands);
      expect(r.code, argv.join(" ")).toBe(2);
    }
  });
});

describe("zllm eval quant", () => {
  it("--json: perplexity of both, KLD mean and p99, top-1 agreement, weight RMSE per tensor kind", async () => {
    const r = await runCli(["eval", "quant", "--type", "q8_0", "--data", heldOut, "--backend", "js", "--json"], commands);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown> & { weight_rmse: Record<string, { type: string; rmse: number; relative_rmse: number }> };
    for (const key of ["perplexity_base", "perplexity", "kld_mean", "kld_p99", "top1_agreement"]) expect(typeof j[key], key).toBe("number");
    expect(j.type).toBe("q8_0");
    expect(j.cache_type_k).toBe("f32");
    expect(j.kld_mean as number).toBeGreaterThan(0);
    expect(j.kld_mean as number).toBeLessThan(2e-3);
    expect(j.kld_p99 as number).toBeGreaterThanOrEqual(j.kld_mean as number);
    expect(Math.abs((j.perplexity as number) / (j.perplexity_base as number) - 1)).toBeLessThan(0.01);
    expect(j.top1_agreement as number).toBeGreaterThan(0.9);
    expect(Object.keys(j.weight_rmse).sort()).toEqual(["attn_k", "attn_output", "attn_q", "attn_v", "ffn_down", "ffn_gate", "ffn_up", "token_embd"]);
    for (const e of Object.values(j.weight_rmse)) {
      expect(e.type).toBe("q8_0");
      expect(e.relative_rmse).toBeGreaterThan(0.003);
      expect(e.relative_rmse).toBeLessThan(0.01); // Q8_0: ~0.5 % of the weights' RMS
    }
  }, 300_000);

  it("q4_0 costs more than q8_0; --type f32 with a q4_0 KV cache measures the cache alone; the text report", async () => {
    const run = async (argv: string[]): Promise<Record<string, number>> => {
      const r = await runCli(["eval", "quant", "--data", heldOut, "--json", ...argv], commands);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Record<string, number>;
    };
    const q8 = await run(["--type", "q8_0"]), q4 = await run(["--type", "q4_0"]);
    expect(q4.kld_mean).toBeGreaterThan(q8.kld_mean);
    const kv = await run(["--type", "f32", "--cache-type-k", "q4_0", "--cache-type-v", "q4_0"]);
    expect(kv.weight_bytes).toBe(kv.weight_bytes_base);
    expect(kv.kv_bytes / kv.kv_bytes_base).toBeCloseTo(18 / 128, 6);
    expect(kv.kld_mean).toBeGreaterThan(0);
    const text = await runCli(["eval", "quant", "--type", "q4_k", "--data", heldOut], commands);
    expect(text.stdout).toMatch(/^weights q4_k \([0-9.]+ MB, f32 4\.20 MB\), KV cache K f32 V f32 .*\nperplexity [0-9.]+ vs f32 [0-9.]+ \([+-][0-9.]+%\)\nKL divergence mean .* nats\ntop-1 agreement [0-9.]+%\n/);
    expect(text.stdout).toMatch(/ {2}ffn_down {5}q4_1 {7}rmse /);
    expect((await runCli(["eval", "quant", "--data", heldOut], commands)).code).toBe(2);
  }, 300_000);
});

describe("--cache-type-k / --cache-type-v", () => {
  it("eval logits: a q8_0 cache moves the logits a little, f32 is the default", async () => {
    const argv = ["eval", "logits", "--tokens", "2047,464,1234,88,7,300,9", "--json"];
    const f32 = JSON.parse((await runCli(argv, commands)).stdout) as number[][];
    const q8 = await runCli([...argv, "--cache-type-k", "q8_0", "--cache-type-v", "q8_0"], commands);
    expect(q8.code, q8.stderr).toBe(0);
    const rows = JSON.parse(q8.stdout) as number[][];
    let worst = 0;
    rows.forEach((row, p) => row.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - f32[p][i])))));
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThan(0.2);
    const bad = await runCli([...argv, "--cache-type-v", "q5_1"], commands);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--cache-type-v/);
  });

  it("eval ppl runs a quantized file and a quantized cache through the inference pass; bench reports type_k / type_v", async () => {
    const q4 = path.join(dir, "ppl-q4_0.gguf");
    expect((await runCli(["quantize", "--type", "q4_0", "--out", q4], commands)).code).toBe(0);
    const f32 = JSON.parse((await runCli(["eval", "ppl", "--data", heldOut, "--json"], commands)).stdout) as { perplexity: number };
    const r = await runCli(["eval", "ppl", "--model", q4, "--data", heldOut, "--cache-type-k", "q8_0", "--json"], commands);
    expect(r.code, r.stderr).toBe(0);
    const q = JSON.parse(r.stdout) as { perplexity: number };
    expect(Math.abs(q.perplexity / f32.perplexity - 1)).toBeLessThan(0.1);
    expect(q.perplexity).not.toBe(f32.perplexity);
    const bench = await runCli(["bench", "--model", q4, "--pp", "16", "--tg", "4", "--reps", "1", "--cache-type-k", "q4_0", "--cache-type-v", "f16", "--json"], commands);
    expect(bench.code, bench.stderr).toBe(0);
    const results = JSON.parse(bench.stdout) as BenchResult[];
    expect(results.map((x) => [x.type_k, x.type_v])).toEqual([["q4_0", "f16"], ["q4_0", "f16"]]);
  }, 300_000);
});
