import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Rng } from "@zero-llm/tensor";
import { fromTokenizerJson } from "@zero-llm/tokenizer-bpe";
import { generate } from "@zero-llm/transformer";
import { loadModel, writeGgufModel } from "@zero-llm/transformer/node";
import type { Llama, LlamaModel, Token } from "node-llama-cpp";
import { afterAll, describe, expect, it } from "vitest";
import { LoraAdapter, withAdapters } from "../src/index";
import { readPeftAdapter, writeGgufAdapter } from "../src/node/index";
import { startLlamaCpp } from "../../../tools/test-helpers/llama-cpp";

// llama.cpp itself (node-llama-cpp's CPU prebuilt) applies our GGUF adapter to our GGUF export of
// the base model, and must decode the same greedy tokens as our engine running the adapter.
// Skipped, with the reason in the title, when the prebuilt binary does not load here (or with
// ZLLM_LLAMA_CPP=0).
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../../..");
const defaultModel = path.join(repoRoot, "models/default");
const shipped = path.join(repoRoot, "models/addition-lora");

const started = await startLlamaCpp(async (): Promise<Llama> => {
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  return getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
});
const llama = "llama" in started ? started.llama : undefined;
const title = llama ? "llama.cpp (node-llama-cpp 3.22.1) applies our GGUF adapters" : `llama.cpp checks skipped: ${"reason" in started ? started.reason : ""}`;

describe.skipIf(!llama || !existsSync(path.join(defaultModel, "tokenizer.json")))(title, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-lora-llama-cpp-"));
  const loaded: LlamaModel[] = [];
  afterAll(async () => {
    for (const m of loaded) await m.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  async function llamaGreedy(gguf: string, adapter: string, scale: number, prompt: number[], n: number): Promise<number[]> {
    if (!llama) throw new Error("unreachable: the suite is skipped without llama.cpp");
    const model = await llama.loadModel({ modelPath: gguf });
    loaded.push(model);
    const context = await model.createContext({ contextSize: 128, threads: 1, flashAttention: false, lora: { adapters: [{ filePath: adapter, scale }] } });
    const greedy: number[] = [];
    for await (const t of context.getSequence().evaluate(prompt as unknown as Token[], { temperature: 0 })) {
      greedy.push(t);
      if (greedy.length === n) break;
    }
    await context.dispose();
    return greedy;
  }

  it.each([
    ["a random adapter on every linear module (q/k rows permuted into GGUF order)", 1],
    ["the same at scale 0.5 (llama.cpp's --lora-scaled)", 0.5],
  ])("%s: the same 40 greedy tokens as our engine", async (_name, scale) => {
    const base = await loadModel(defaultModel);
    const tokenizer = fromTokenizerJson(readFileSync(path.join(defaultModel, "tokenizer.json"), "utf8"));
    const eot = tokenizer.specialTokens.get("<|endoftext|>") ?? -1;
    const gguf = path.join(dir, "default.gguf");
    if (!existsSync(gguf)) await writeGgufModel(gguf, base, { tokenizer, tokenizerOptions: { addBosToken: true } });
    const adapter = LoraAdapter.create(base.config, { targetModules: "all-linear", r: 8, alpha: 16, useRslora: true }, { seed: 4 });
    const g = new Rng(5);
    for (const m of adapter.modules.values()) for (let i = 0; i < m.b.length; i++) m.b[i] = 0.02 * g.normal();
    const file = path.join(dir, `adapter-${scale}.gguf`);
    await writeGgufAdapter(file, base.config, adapter);
    const prompt = [eot, ...tokenizer.encode("The jury said")];
    const ours = [...generate(withAdapters(base, [{ adapter, scale }]), prompt, { maxTokens: 40 })];
    expect(ours).not.toEqual([...generate(base, prompt, { maxTokens: 40 })]); // the adapter changes the text
    expect(await llamaGreedy(gguf, file, scale, prompt, 40)).toEqual(ours);
  }, 120_000);

  it.skipIf(!existsSync(path.join(shipped, "adapter_config.json")))("the shipped addition adapter: llama.cpp answers as we do", async () => {
    const base = await loadModel(defaultModel);
    const tokenizer = fromTokenizerJson(readFileSync(path.join(defaultModel, "tokenizer.json"), "utf8"));
    const eot = tokenizer.specialTokens.get("<|endoftext|>") ?? -1;
    const gguf = path.join(dir, "default.gguf");
    if (!existsSync(gguf)) await writeGgufModel(gguf, base, { tokenizer, tokenizerOptions: { addBosToken: true } });
    const adapter = await readPeftAdapter(shipped);
    const file = path.join(dir, "addition.gguf");
    await writeGgufAdapter(file, base.config, adapter);
    for (const [a, b] of [[23, 48], [67, 58], [91, 19]]) {
      const prompt = [eot, ...tokenizer.encode(`Q: ${a} + ${b} = ? A:`)];
      // llama.cpp stops at <|endoftext|> (the GGUF's end-of-generation token) and leaves it out
      const ours = [...generate(withAdapters(base, [{ adapter }]), prompt, { maxTokens: 4, eos: [eot] })].filter((id) => id !== eot);
      expect(ours.length, `${a} + ${b}: an answer before <|endoftext|>`).toBeGreaterThan(0);
      expect(await llamaGreedy(gguf, file, 1, prompt, 4), `${a} + ${b}`).toEqual(ours);
    }
  }, 120_000);
});
