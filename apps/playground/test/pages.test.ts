// Every page of the playground in Debian's Chromium, served by @zero-llm/serve as `npm start`
// serves it: each loads with no console error and no failed request, and one real interaction
// per page gives the number our packages compute here in Node for the same input.
// ZLLM_SCREENSHOTS=1 also writes each page's screenshot to docs/playground/ (the README shows them).
import path from "node:path";
import { toGraphJson } from "@zero-llm/autograd";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseExpression } from "../src/lib/expression";
import { MoonsTrainer } from "../src/lib/moons";
import { depthExperiment } from "../src/lib/depth";
import { existsSync, readFileSync } from "node:fs";
import { GgufFile, SafetensorsFile } from "@zero-llm/tensor";
import { fromGgufMetadata, fromTiktoken, fromTokenizerJson, trainBpeWithReport } from "@zero-llm/tokenizer-bpe";
import cl100k from "js-tiktoken/ranks/cl100k_base";
import o200k from "js-tiktoken/ranks/o200k_base";
import { SAMPLES } from "../src/pages/tokenizer";
import { loadModel } from "@zero-llm/transformer/node";
import { KVCache, KV_DTYPES, Model, f32KV, generate, modelConfig, parseCheckpoint, modelFromBytes, quantizeWeights } from "@zero-llm/transformer";
import { DEFAULT_SETUP, setUpTraining } from "../src/lib/training";
import { KV_ROW_FORMATS, dequantizeMatrix, quantizeMatrix, relativeRmse } from "@zero-llm/quant";
import { compareModels, quantizedModel } from "../src/lib/quality";
import { heldOutText } from "../vite.config";
import { Sampler, compileConstraint, tokenVocabulary, type JsonSchema } from "@zero-llm/sampling";
import { createWasmBackend, getBackend, setBackend } from "@zero-llm/tensor";
import { readPeftAdapter, writePeftAdapter } from "@zero-llm/lora/node";
import { ExampleDataset, LoraAdapter, LoraTrainer, TrainableLora, loraSettings, parseJsonl, tokenizeExample, weightDeltas, withAdapters } from "@zero-llm/lora";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { answer, heldOutPairs, question, softmax } from "../src/lib/lora";
import { fmt } from "../src/ui/dom";
import { adapterDir, modelDir, repoRoot, skipReason, startSession, type Problems, type Session } from "./helpers/browser";

const SHOTS = process.env.ZLLM_SCREENSHOTS === "1";

/**
 * Without models/addition-lora in the build: an adapter trained here in seconds (the recipe's
 * task and settings, 20 steps of 8 examples), written as a PEFT directory and dropped on the LoRA page.
 */
async function dropQuickAdapter(page: Page): Promise<LoraAdapter> {
  await page.getByTestId("no-shipped-adapter").waitFor();
  // the wasm kernels (training on the js reference takes minutes on a shared machine)
  const backend = await createWasmBackend({ threads: 1 });
  const previous = getBackend();
  setBackend(backend);
  try {
    return await trainAndDrop(page, await loadModel(modelDir, { backend }));
  } finally {
    setBackend(previous);
    backend.dispose();
  }
}

async function trainAndDrop(page: Page, base: Model): Promise<LoraAdapter> {
  const tokenizer = fromTokenizerJson(readFileSync(path.join(modelDir, "tokenizer.json"), "utf8"));
  const pairs = heldOutPairs(810), held = new Set(pairs.map(([a, b]) => 100 * a + b));
  const lines: string[] = [];
  for (let a = 10; a <= 99; a++) for (let b = 10; b <= 99; b++) if (!held.has(100 * a + b)) lines.push(JSON.stringify({ prompt: question(a, b), completion: ` ${a + b}` }));
  const codec = { encode: (t: string) => tokenizer.encode(t), bos: 2047, eos: 2047 };
  const data = new ExampleDataset(parseJsonl(lines.join("\n")).map((e) => tokenizeExample(e, codec)), base.config.vocabSize, { seqLen: base.config.seqLen, valFraction: 0.02 });
  const trainable = new TrainableLora(base.config, LoraAdapter.create(base.config, { targetModules: "all-linear", r: 16, alpha: 32 }, { seed: 1 }));
  const trainer = new LoraTrainer(base, trainable, data, loraSettings({ steps: 20, batchSize: 8, lr: 2e-3 }));
  for (let i = 0; i < 20; i++) trainer.trainStep();
  const adapter = trainable.toAdapter();
  const dir = mkdtempSync(path.join(tmpdir(), "zllm-playground-adapter-"));
  await writePeftAdapter(dir, adapter);
  await page.getByTestId("adapter-files").setInputFiles([path.join(dir, "adapter_config.json"), path.join(dir, "adapter_model.safetensors")]);
  return adapter;
}
let session: Session;

async function finish(page: Page, problems: Problems, name: string): Promise<void> {
  if (SHOTS) await page.screenshot({ path: path.join(repoRoot, "docs/playground", `${name}.png`), fullPage: true });
  expect(problems.console, "console errors").toEqual([]);
  expect(problems.failed, "failed requests").toEqual([]);
  await page.close();
}

const num = async (page: Page, testid: string): Promise<number> => Number(await page.getByTestId(testid).textContent());

describe.skipIf(skipReason !== "")(`playground pages in Chromium${skipReason ? ` (${skipReason})` : ""}`, () => {
  beforeAll(async () => {
    session = await startSession();
  });
  afterAll(async () => {
    await session?.close();
  });

  it("home: links to every page, and says how many threads the wasm backend gets", async () => {
    const { page, problems } = await session.open("");
    const links = await page.locator(".cards a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    expect(links).toEqual(["#/autograd", "#/activations", "#/tokenizer", "#/attention", "#/training", "#/sampling", "#/quantization", "#/lora", "#/chat"]);
    // served with COOP/COEP, so the page is cross-origin isolated and gets threads
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(await page.locator("#threads").textContent()).toMatch(/cross-origin isolated/);
    await finish(page, problems, "home");
  });

  it("autograd: the graph's gradients equal the Value engine's; nudging measures the same slope; the moons loss equals the CLI recipe's", async () => {
    const { page, problems } = await session.open("autograd");
    await page.getByTestId("grad-w1").waitFor();
    const values = { x1: 2, x2: 0, w1: -3, w2: 1, b: 6.881373587019543 };
    const { root, inputs } = parseExpression("tanh(x1*w1 + x2*w2 + b)", values);
    root.backward();
    expect(await num(page, "grad-w1")).toBeCloseTo(inputs.get("w1")!.grad, 5);
    expect(await num(page, "grad-x1")).toBeCloseTo(inputs.get("x1")!.grad, 5);
    // the measured slope (h = 1e-4) agrees with the gradient to O(h)
    expect(Math.abs(await num(page, "slope-x1") - inputs.get("x1")!.grad)).toBeLessThan(1e-3);
    expect(await page.locator("[data-testid=graph] g.node").count()).toBe(toGraphJson(root).nodes.length);
    await page.getByTestId("nudge-x1").click();
    await expect.poll(() => page.getByTestId("nudge-note").textContent()).toMatch(/Nudged x1 by h = 0.0001/);

    await page.getByTestId("moons-steps").fill("20");
    await page.getByTestId("moons-train").click();
    await page.getByTestId("moons-final-loss").waitFor({ timeout: 300_000 });
    const trainer = new MoonsTrainer(1, 20, 1);
    for (let s = 0; s < 20; s++) trainer.trainStep();
    expect(await num(page, "moons-final-loss")).toBe(Number(trainer.trainStep().loss.toFixed(4)));
    await finish(page, problems, "autograd");
  });

  it("activations: the signal at layer 50 equals the same 50-layer run in Node, per initialization; a negative bias kills ReLUs", async () => {
    const { page, problems } = await session.open("activations");
    await page.getByTestId("signal50-kaiming").waitFor({ timeout: 300_000 });
    for (const init of ["kaiming", "xavier", "tiny"] as const) {
      const node = depthExperiment({ init, activation: "relu", bias: 0, seed: 1 });
      // browser: wasm kernels; here: the js reference. Same math, float32 rounding apart.
      const shown = await num(page, `signal50-${init}`);
      if (node.signal[50] === 0) expect(shown).toBe(0); // tiny weights: 0.0064× per layer underflows float32
      else expect(Math.abs(shown / node.signal[50] - 1)).toBeLessThan(1e-3);
    }
    expect(await num(page, "dead-zeros")).toBe(50 * 128);
    await page.getByTestId("depth-bias").fill("-0.5");
    await page.getByTestId("depth-run").click();
    const node = depthExperiment({ init: "kaiming", activation: "relu", bias: -0.5, seed: 1 });
    await expect.poll(() => num(page, "dead-kaiming"), { timeout: 300_000 }).toBe(node.dead.reduce((a, b) => a + b, 0));
    expect(node.dead.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    // back to no bias for the screenshot
    await page.getByTestId("depth-bias").fill("0");
    await page.getByTestId("depth-run").click();
    await expect.poll(() => num(page, "dead-kaiming"), { timeout: 300_000 }).toBe(depthExperiment({ init: "kaiming", activation: "relu", bias: 0, seed: 1 }).dead.reduce((a, b) => a + b, 0));
    await finish(page, problems, "activations");
  });

  it("tokenizer: token counts equal @zero-llm/tokenizer-bpe's for the same text (cl100k, o200k, the model's, a dropped GGUF); BPE training gives the same vocabulary", async () => {
    const { page, problems } = await session.open("tokenizer");
    const text = "Byte pair encoding: 東京 🙂 naïve — 1234567 tokens, don't you think?";
    await page.getByTestId("token-count").waitFor();
    await page.getByTestId("text").fill(text);
    const cl = fromTiktoken({ ranks: cl100k, encoding: "cl100k_base" });
    await expect.poll(() => num(page, "token-count")).toBe(cl.encode(text).length);
    expect(await page.locator("[data-testid=tokens] .tok").count()).toBe(cl.encode(text).length);

    await page.getByTestId("vocab").selectOption("o200k_base");
    await expect.poll(() => page.getByTestId("vocab-info").textContent(), { timeout: 300_000 }).toMatch(/o200k_base/);
    await expect.poll(() => num(page, "token-count")).toBe(fromTiktoken({ ranks: o200k, encoding: "o200k_base" }).encode(text).length);

    await page.getByTestId("vocab").selectOption("model");
    await expect.poll(() => page.getByTestId("vocab-info").textContent()).toMatch(/embedded model/);
    const modelTok = fromTokenizerJson(readFileSync(path.join(modelDir, "tokenizer.json"), "utf8"));
    await expect.poll(() => num(page, "token-count")).toBe(modelTok.encode(text).length);

    // the comparison table: the English row's cl100k count
    const row = await page.getByTestId("compare-table").locator("tbody tr").first().locator("td").allTextContents();
    expect(Number.parseInt(row[3])).toBe(cl.encode(SAMPLES[0][1]).length);

    const gguf = path.join(repoRoot, "../shared/fixtures/ggml-vocab/ggml-vocab-gpt-2.gguf");
    if (existsSync(gguf)) {
      await page.getByTestId("vocab-file").setInputFiles(gguf);
      await expect.poll(() => page.getByTestId("vocab-info").textContent(), { timeout: 300_000 }).toMatch(/ggml-vocab-gpt-2\.gguf/);
      const metadata = new Map([...GgufFile.parse(readFileSync(gguf)).metadata].map(([k, e]) => [k, typeof e.value === "bigint" ? Number(e.value) : e.value]));
      await expect.poll(() => num(page, "token-count")).toBe(fromGgufMetadata(metadata).encode(text).length);
      // the dropped vocabulary joins the comparison table as a fifth column
      await expect.poll(() => page.getByTestId("compare-table").locator("thead th").count()).toBe(7);
      const english = await page.getByTestId("compare-table").locator("tbody tr").first().locator("td").allTextContents();
      expect(Number.parseInt(english[6])).toBe(fromGgufMetadata(metadata).encode(SAMPLES[0][1]).length);
    }

    await page.getByTestId("train-vocab-size").fill("290");
    await page.getByTestId("train").click();
    await page.getByTestId("trained-vocab-size").waitFor({ timeout: 300_000 });
    const trainText = await page.getByTestId("train-text").inputValue();
    const report = trainBpeWithReport(trainText, { vocabSize: 290, pattern: "cl100k" });
    expect(await num(page, "trained-vocab-size")).toBe(report.tokenizer.vocabSize);
    expect(await num(page, "trained-count")).toBe(report.tokenizer.encode(trainText).length);
    expect(await page.getByTestId("merges").locator("li").count()).toBe(report.merges);
    await page.getByTestId("vocab").selectOption("cl100k_base");
    await page.getByTestId("text").fill("The jury said it did not find any evidence. Tokenizers split text into pieces: 123456789, naïve café, 東京, 🙂.");
    await expect.poll(() => num(page, "token-count")).toBe(cl.encode("The jury said it did not find any evidence. Tokenizers split text into pieces: 123456789, naïve café, 東京, 🙂.").length);
    await finish(page, problems, "tokenizer");
  });

  it("attention: the page's weights for one query equal the model's captured attention in Node; the step-by-step recomputation agrees", async () => {
    const { page, problems } = await session.open("attention");
    await page.getByTestId("walk-diff").waitFor({ timeout: 300_000 });
    const model = await loadModel(modelDir);
    const tokenizer = fromTokenizerJson(readFileSync(path.join(modelDir, "tokenizer.json"), "utf8"));
    const prompt = await page.getByTestId("prompt").inputValue();
    const ids = [2047, ...tokenizer.encode(prompt)];
    const { attention } = model.prefill(ids, model.newCache(), { captureAttention: true });
    const n = ids.length;
    // layer 0, head 0, the last query
    await page.getByTestId("map-0-0").click();
    await expect.poll(() => page.getByTestId("walk").textContent()).toMatch(/Layer 0, head 0/);
    const row = attention!.layers[0].subarray((n - 1) * n, n * n);
    for (let j = 0; j < n; j += 3) expect(Math.abs(await num(page, `p-${j}`) - row[j])).toBeLessThan(2e-4);
    expect(await num(page, "walk-diff")).toBeLessThan(1e-4);
    // another head, another query
    await page.getByTestId("map-2-3").click();
    await page.getByTestId("query").selectOption("4");
    const other = attention!.layers[2].subarray((3 * n + 4) * n, (3 * n + 5) * n);
    await expect.poll(async () => Math.abs(await num(page, "p-1") - other[1])).toBeLessThan(2e-4);
    expect(await num(page, `p-${n - 1}`)).toBe(0); // a later key is masked
    await page.getByTestId("attention-exponent").waitFor({ timeout: 300_000 });
    expect(Number.isFinite(await num(page, "attention-exponent"))).toBe(true);
    await page.getByTestId("map-3-1").click();
    await page.getByTestId("query").selectOption(String(n - 1));
    const last = attention!.layers[3].subarray((n + n - 1) * n, (n + n) * n);
    await expect.poll(async () => Math.abs(await num(page, "p-0") - last[0])).toBeLessThan(2e-4);
    await finish(page, problems, "attention");
  });

  it("sampling: the chain's final probabilities, the schema mask and seeded and speculative generation equal the packages' own in Node", async () => {
    const { page, problems } = await session.open("sampling");
    await page.getByTestId("chain-diff").waitFor({ timeout: 300_000 });
    // the browser runs the wasm kernels; the same module on 1 thread in Node gives the same bits (batch-invariant kernels)
    const backend = await createWasmBackend({ threads: 1 });
    try {
      const model = await loadModel(modelDir, { backend });
      const tokenizer = fromTokenizerJson(readFileSync(path.join(modelDir, "tokenizer.json"), "utf8"));
      const ids = [2047, ...tokenizer.encode("The jury said")];
      const logits = Float32Array.from(model.prefill(ids, model.newCache()).logits);
      const settings = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 };
      const probs = new Sampler(settings).probabilities(new Float64Array(logits.length), logits, ids);
      const top = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a])[0];
      expect(await num(page, "final-0")).toBeCloseTo(probs[top], 4);
      expect(await num(page, "chain-diff")).toBeLessThan(1e-6); // softmax with Math.exp here, portableExp in the Sampler

      await page.getByTestId("seed").fill("7");
      await page.getByTestId("max-tokens").fill("24");
      await page.getByTestId("generate").click();
      await page.getByTestId("generated-ids").waitFor({ timeout: 300_000 });
      const expected = [...generate(model, ids, { maxTokens: 24, eos: 2047, sampler: new Sampler({ ...settings, seed: 7, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0 }) })];
      expect((await page.getByTestId("generated-ids").textContent())!.split(" ").map(Number)).toEqual(expected);

      // the JSON Schema mask: the same allowed-token count as compileConstraint in Node, and a constrained output that parses
      await page.getByTestId("use-schema").check();
      await page.getByTestId("allowed-count").waitFor({ timeout: 300_000 });
      const schema = JSON.parse(await page.getByTestId("schema").inputValue()) as JsonSchema;
      const constraint = compileConstraint({ type: "json", schema }, tokenVocabulary(tokenizer, { eos: [2047] }));
      expect(await num(page, "allowed-count")).toBe(constraint.mask(constraint.initialState(), constraint.createMask()));
      await page.getByTestId("max-tokens").fill("150"); // a 1M-parameter base model spends many tokens on the whitespace JSON allows
      await page.getByTestId("generate").click();
      await expect.poll(() => page.getByTestId("generate-stats").textContent(), { timeout: 300_000 }).toMatch(/stop: grammar/);
      const out = (await page.getByTestId("generated").locator(".tok").allTextContents()).join("");
      const parsed = JSON.parse(out) as { name: unknown; age: unknown };
      expect(typeof parsed.name).toBe("string");
      expect(Number.isInteger(parsed.age)).toBe(true);

      await page.getByTestId("speculate").click();
      await page.getByTestId("spec-same").waitFor({ timeout: 300_000 });
      expect(await page.getByTestId("spec-same").textContent()).toBe("yes");
      expect(await num(page, "spec-accepted")).toBeGreaterThan(0);
      const specIds = [2047, ...tokenizer.encode(await page.getByTestId("spec-prompt").inputValue())];
      const greedy = tokenizer.decode([...generate(model, specIds, { maxTokens: 40, eos: 2047 })]);
      expect((await page.getByTestId("spec-out").locator(".accepted, .corrected").allTextContents()).join("")).toBe(greedy);
      // a draft model (the model in Q4_0) through the transformer's generate({ draft }): the same tokens, and the page's
      // accepted count is generate's own stat for the same draft in Node
      await page.getByTestId("drafter").selectOption("q4_0");
      await page.getByTestId("speculate").click();
      await expect.poll(() => page.getByTestId("spec-stats").textContent(), { timeout: 300_000 }).toMatch(/Q4_0 draft model/);
      expect(await page.getByTestId("spec-same").textContent()).toBe("yes");
      const draft = new Model(model.config, quantizeWeights(model.weights, "q4_0", backend), { backend });
      const run = generate(model, specIds, { maxTokens: 40, eos: 2047, sampler: new Sampler({ temperature: 0, seed: 1 }), draft, draftMax: 6 });
      expect(tokenizer.decode([...run])).toBe(greedy);
      expect(await num(page, "spec-accepted")).toBe(run.stats.acceptedDraftTokens);
      expect(await num(page, "spec-passes")).toBe(run.stats.targetPasses);
      expect(await page.getByTestId("spec-out").locator(".rejected").count()).toBe(run.stats.draftTokens - run.stats.acceptedDraftTokens);
      // the screenshot shows the distribution without the mask
      await page.getByTestId("use-schema").uncheck();
      await expect.poll(() => page.getByTestId("mask-info").textContent()).toMatch(/No constraint/);
    } finally {
      backend.dispose();
    }
    await finish(page, problems, "sampling");
  });

  it("training: a tiny model trains in the page; pause holds it; the downloaded checkpoint's losses equal the same run in Node; the GGUF loads", async () => {
    const { page, problems } = await session.open("training");
    await page.getByTestId("set-steps").fill("60");
    await page.getByTestId("train").click();
    await expect.poll(async () => Number(await page.getByTestId("step").textContent().catch(() => "0")), { timeout: 300_000 }).toBeGreaterThanOrEqual(5);
    await page.getByTestId("pause").click();
    await page.getByTestId("paused").waitFor({ timeout: 300_000 });
    const held = await num(page, "step");
    await page.waitForTimeout(500);
    expect(await num(page, "step")).toBe(held);
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("download").click()]);
    const state = parseCheckpoint(readFileSync((await download.path())));
    expect(state.step).toBe(held);
    // the same run in Node (same text, BPE, seed and settings; wasm kernels on 1 thread): the same losses
    const backend = await createWasmBackend({ threads: 1 });
    const previous = getBackend();
    setBackend(backend);
    try {
      const run = setUpTraining({ ...DEFAULT_SETUP, steps: 60, text: await page.getByTestId("text").inputValue() });
      for (let i = 0; i < 3; i++) {
        const r = run.trainer.trainStep();
        expect(Math.abs(r.loss - state.history[i].loss)).toBeLessThan(1e-4 * r.loss);
      }
    } finally {
      setBackend(previous);
      backend.dispose();
    }
    await page.getByTestId("pause").click(); // resume
    await page.getByTestId("done").waitFor({ timeout: 300_000 });
    expect(await num(page, "step")).toBe(60);
    expect(await page.locator("[data-testid=samples] p").count()).toBeGreaterThanOrEqual(2);
    const [gguf] = await Promise.all([page.waitForEvent("download"), page.getByTestId("download-gguf").click()]);
    const model = await modelFromBytes(readFileSync((await gguf.path())));
    expect(model.config.nLayers).toBe(DEFAULT_SETUP.layers);
    await finish(page, problems, "training");
  });

  it("chat: streams a reply from the server started by the test; the text and each token's probability equal the same request made directly", async () => {
    const { page, problems } = await session.open("chat");
    await expect.poll(() => page.getByTestId("server").textContent()).toMatch(/Connected/);
    await page.getByTestId("show-probs").check();
    await page.getByTestId("max-tokens").fill("24");
    await page.getByTestId("message").fill("What did the jury say about the city?");
    await page.getByTestId("message").press("Enter");
    await page.getByTestId("finish").waitFor({ timeout: 300_000 });
    const reply = (await page.getByTestId("reply").locator(".lp-token:not(.lp-stop)").allTextContents()).join("");
    // the same request, not streamed, straight to the server
    const direct = await fetch(`${session.baseUrl}/v1/chat/completions`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model: "default", messages: [{ role: "user", content: "What did the jury say about the city?" }], max_tokens: 24, temperature: 0.8, seed: 1, logprobs: true, top_logprobs: 5 }),
    }).then((r) => r.json() as Promise<{ choices: Array<{ message: { content: string }; logprobs: { content: Array<{ token: string; logprob: number }> } }>; usage: { completion_tokens: number } }>);
    expect(reply).toBe(direct.choices[0].message.content);
    expect(await num(page, "completion-tokens")).toBe(direct.usage.completion_tokens);
    expect(await num(page, "ttft")).toBeGreaterThan(0);
    await page.getByTestId("reply").locator(".lp-token").first().click();
    expect(await num(page, "detail-prob")).toBeCloseTo(Math.exp(direct.choices[0].logprobs.content[0].logprob), 3);
    await finish(page, problems, "chat");
  });

  it("quantization: the weight table is the safetensors file's; the KV calculator's figure equals bytes() of a real KVCache; error per tensor and perplexity per type equal @zero-llm/quant's in Node", async () => {
    const { page, problems } = await session.open("quantization");
    await page.getByTestId("tensor-table").locator("tbody tr").first().waitFor({ state: "attached", timeout: 300_000 });
    const st = SafetensorsFile.parse(readFileSync(path.join(modelDir, "model.safetensors")));
    expect(await page.getByTestId("tensor-table").locator("tbody tr").count()).toBe(st.tensors.length);
    // the embedded model's own cache: the default shape
    const model = await loadModel(modelDir);
    expect(await page.getByTestId("kv-bytes").textContent()).toBe(model.newCache().bytes().toLocaleString("en"));

    // quantization error per tensor: @zero-llm/quant's quantize → dequantize in Node, the same figure
    const down = "model.layers.0.mlp.down_proj.weight";
    const { data, shape } = model.weights.get(down);
    for (const type of ["q8_0", "q4_0"] as const) {
      const back = dequantizeMatrix(quantizeMatrix(data, shape[0], shape[1], type), shape[0], shape[1], type);
      await expect.poll(() => page.getByTestId(`err-${down}-${type}`).textContent(), { timeout: 300_000 }).toBe(`${(100 * relativeRmse(data, back)).toPrecision(3)} %`);
    }
    // Q4_K proper: the same values in rows of 256
    const rows256 = data.length / 256;
    const q4k = dequantizeMatrix(quantizeMatrix(data, rows256, 256, "q4_k"), rows256, 256, "q4_k");
    expect(await page.getByTestId(`err-${down}-q4_k-256`).textContent()).toBe(`${(100 * relativeRmse(data, q4k)).toPrecision(3)} %`);
    // perplexity per type: the same comparison in Node (wasm kernels, 1 thread) on the same held-out text
    await page.getByTestId("ppl-q4_k").waitFor({ timeout: 600_000 });
    const backend = await createWasmBackend({ threads: 1 });
    try {
      const base = await loadModel(modelDir, { backend });
      const tokenizer = fromTokenizerJson(readFileSync(path.join(modelDir, "tokenizer.json"), "utf8"));
      const tokens = tokenizer.encode(heldOutText()).slice(0, 1536);
      for (const type of ["q8_0", "q4_0"] as const) {
        const summary = compareModels(base, quantizedModel(base, type, backend).model, tokens, 2047, 512);
        expect(Math.abs(await num(page, `ppl-${type}`) - summary.perplexity)).toBeLessThan(2e-3 * summary.perplexity);
        expect((await page.getByTestId(`top1-${type}`).textContent())!.replace(" %", "")).toBe((100 * summary.top1Agreement).toFixed(2));
      }
    } finally {
      backend.dispose();
    }
    // The KV calculator sits below the error table, which replaces its placeholder when the
    // worker reports, and the quality table, whose rows are there from the start but fill in (and
    // change width) as reports arrive; a click while the page re-lays itself out lands beside its
    // button. So its presets are clicked once the last report is in.
    await expect.poll(() => page.getByTestId("quality-status").textContent(), { timeout: 600_000 }).toMatch(/held-out tokens/);
    // a Llama-3-8B-like shape at 2,048 positions
    for (const [key, value] of [["layers", 32], ["kvHeads", 8], ["headDim", 128], ["context", 2048]] as const) await page.getByTestId(`kv-${key}`).fill(String(value));
    const config = modelConfig({ arch: "llama", vocabSize: 1, dim: 8 * 128, nHeads: 8, nKvHeads: 8, nLayers: 32, seqLen: 2048 });
    const bytes = new KVCache(config, getBackend(), { kType: f32KV, vType: f32KV }).bytes();
    await expect.poll(() => page.getByTestId("kv-bytes").textContent()).toBe(bytes.toLocaleString("en"));
    expect(await page.getByTestId("kv-real").textContent()).toBe(bytes.toLocaleString("en"));
    // a q8_0 key cache and a q4_0 value cache: the formula from @zero-llm/quant's row sizes, and a real cache of those types
    await page.getByTestId("kv-kType").selectOption("q8_0");
    await page.getByTestId("kv-vType").selectOption("q4_0");
    const packed = new KVCache(config, getBackend(), { kType: KV_DTYPES.q8_0, vType: KV_DTYPES.q4_0 }).bytes();
    expect(packed).toBe(32 * 2048 * (KV_ROW_FORMATS.q8_0.rowBytes(8 * 128) + KV_ROW_FORMATS.q4_0.rowBytes(8 * 128)));
    await expect.poll(() => page.getByTestId("kv-bytes").textContent()).toBe(packed.toLocaleString("en"));
    await expect.poll(() => page.getByTestId("kv-real").textContent()).toBe(packed.toLocaleString("en"));
    // the screenshot shows the embedded model's shape with a q8_0 cache, beside f32
    await page.getByTestId("kv-vType").selectOption("q8_0");
    await page.getByRole("button", { name: "the embedded model" }).click();
    await expect.poll(() => page.getByTestId("kv-real").textContent()).toBe(model.newCache({ kType: KV_DTYPES.q8_0, vType: KV_DTYPES.q8_0 }).bytes().toLocaleString("en"));
    await finish(page, problems, "quantization");
  });

  it("lora: ΔW is (α/r)·B·A of the shipped adapter; the distribution with the adapter on and scaled, the answers and the accuracy equal a LoraModel's in Node", async () => {
    const { page, problems } = await session.open("lora");
    // the shipped adapter when this build has one; else one trained here in seconds, dropped on the page as its two files
    const adapter = existsSync(adapterDir) ? await readPeftAdapter(adapterDir) : await dropQuickAdapter(page);
    await page.getByTestId("delta-norm").waitFor({ timeout: 300_000 });
    expect(await num(page, "lora-r")).toBe(adapter.config.r);
    expect(Number((await page.getByTestId("lora-params").textContent())!.replaceAll(",", ""))).toBe(adapter.parameterCount());
    // the wasm kernels on 1 thread in Node: the browser's bits (batch-invariant kernels)
    const backend = await createWasmBackend({ threads: 1 });
    try {
      const base = await loadModel(modelDir, { backend });
      const tokenizer = fromTokenizerJson(readFileSync(path.join(modelDir, "tokenizer.json"), "utf8"));
      // ‖ΔW‖ of the shown layer, ΔW = scaling · B·A summed here by plain loops
      const weight = await page.getByTestId("lora-weight").inputValue();
      const d = weightDeltas(base.config, adapter).find((x) => x.weight === weight);
      if (!d) throw new Error(`the page shows ${weight}, which the adapter does not update`);
      let sum = 0;
      for (let o = 0; o < d.outFeatures; o++) {
        for (let i = 0; i < d.inFeatures; i++) {
          let v = 0;
          for (let k = 0; k < d.rank; k++) v += d.b[o * d.rank + k] * d.a[k * d.inFeatures + i];
          sum += (d.scaling * v) ** 2;
        }
      }
      expect(Math.abs(await num(page, "delta-norm") / Math.sqrt(sum) - 1)).toBeLessThan(1e-5);
      expect(await num(page, "merge-diff")).toBeLessThan(1e-5);

      // the next token with the adapter on at scale 1, then at 0.5: the top probability of a LoraModel here
      const prompt = await page.getByTestId("lora-prompt").inputValue();
      const ids = [2047, ...tokenizer.encode(prompt)];
      const top = (scale: number) => {
        const model = withAdapters(base, [{ adapter, scale }]);
        return Math.max(...softmax(model.prefill(ids, model.newCache()).logits));
      };
      await expect.poll(async () => Math.abs(await num(page, "lora-top") - top(1)), { timeout: 300_000 }).toBeLessThan(1e-5);
      const escaped = (text: string) => JSON.stringify(text).slice(1, -1); // as the page prints a piece
      expect(await page.getByTestId("answer-adapted").textContent()).toBe(escaped(answer(withAdapters(base, [{ adapter }]), tokenizer, 2047, 2047, prompt)));
      expect(await page.getByTestId("answer-base").textContent()).toBe(escaped(answer(base, tokenizer, 2047, 2047, prompt)));
      await page.getByTestId("lora-scale").fill("0.5");
      await expect.poll(async () => Math.abs(await num(page, "lora-top") - top(0.5)), { timeout: 300_000 }).toBeLessThan(1e-5);
      // the slider with the keyboard: two steps of 0.05 up from 0.5
      await page.getByTestId("lora-scale-range").focus();
      await page.keyboard.press("ArrowRight");
      await page.keyboard.press("ArrowRight");
      await expect.poll(() => page.getByTestId("lora-scale").inputValue()).toBe("0.6");
      await expect.poll(async () => Math.abs(await num(page, "lora-top") - top(0.6)), { timeout: 300_000 }).toBeLessThan(1e-5);
      await page.getByTestId("lora-scale").fill("1");
      await expect.poll(async () => Math.abs(await num(page, "lora-top") - top(1)), { timeout: 300_000 }).toBeLessThan(1e-5);

      // exact-match accuracy on the recipe's held-out sums, without and with the adapter
      await page.getByTestId("accuracy-1").waitFor({ timeout: 600_000 });
      const accuracy = (model: Model) => heldOutPairs(40).filter(([a, b]) => answer(model, tokenizer, 2047, 2047, question(a, b)) === ` ${a + b}`).length / 40;
      expect(await page.getByTestId("accuracy-0").textContent()).toBe(`${fmt(100 * accuracy(base), 3)} %`);
      expect(await page.getByTestId("accuracy-1").textContent()).toBe(`${fmt(100 * accuracy(withAdapters(base, [{ adapter }])), 3)} %`);
    } finally {
      backend.dispose();
    }
    // the wrong files dropped: the page says what it expected, and keeps the adapter it has
    await page.getByTestId("adapter-files").setInputFiles({ name: "adapter_config.json", mimeType: "application/json", buffer: Buffer.from("{}") });
    await expect.poll(() => page.getByTestId("adapter-drop-note").textContent()).toMatch(/expected adapter_config.json and adapter_model.safetensors/);
    expect(await num(page, "lora-r")).toBe(adapter.config.r);
    if (SHOTS) await page.getByTestId("adapter-files").setInputFiles([]); // the screenshot without the message
    await finish(page, problems, "lora");
  });
});
