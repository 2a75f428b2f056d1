// The same work in Chromium (the playground's pages, wasm backend in a Web Worker) and in Node
// (the same packages, the same wasm module and thread count), measured in one run:
//   decode: the embedded model generating 200 tokens (sampling page's "Generate", seed 1)
//   training: 40 steps of the training page's default tiny Llama on its default text
// Prints tokens/s for both and the ratio browser ÷ Node. Run after a build:
//   node tools/pnpm.mjs --filter @zero-llm/playground bench      (or `pnpm bench` at the root)
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { createServer, loadServedModel } from "@zero-llm/serve";
import { Sampler } from "@zero-llm/sampling";
import { createWasmBackend, setBackend } from "@zero-llm/tensor";
import { fromTokenizerJson, trainBpeWithReport } from "@zero-llm/tokenizer-bpe";
import { readFileSync } from "node:fs";
import { TokenDataset, Trainer, TransformerLM, generate, modelConfig, resolveSettings } from "@zero-llm/transformer";
import { loadModel } from "@zero-llm/transformer/node";

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(here, "../dist");
const modelDir = path.resolve(here, "../../../models/default");
const CHROMIUM = "/usr/bin/chromium";
if (!existsSync(CHROMIUM) || !existsSync(path.join(dist, "index.html"))) {
  console.log(`skipped: needs ${CHROMIUM} and a built ${dist}`);
  process.exit(0);
}
const THREADS = 2; // what the page gets on this 2-core machine (navigator.hardwareConcurrency, at most 4)
const DECODE_TOKENS = 200, TRAIN_STEPS = 40, ROUNDS = 3;

const backend = await createWasmBackend({ threads: THREADS });
setBackend(backend);
const server = createServer({ models: [await loadServedModel(modelDir, { backend, id: "default" })], staticDir: dist });
const base = await server.listen(0);
const profile = mkdtempSync(path.join(tmpdir(), "zllm-bench-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM, headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});

async function browserDecode() {
  const page = await context.newPage();
  await page.goto(`${base}/#/sampling`);
  await page.getByTestId("chain-diff").waitFor({ timeout: 120_000 });
  await page.getByTestId("seed").fill("1");
  await page.getByTestId("max-tokens").fill(String(DECODE_TOKENS));
  await page.getByTestId("set-temperature").fill("0.8");
  await page.getByTestId("generate").click();
  await page.getByTestId("generated-ids").waitFor({ timeout: 300_000 });
  const text = await page.getByTestId("generate-stats").textContent();
  await page.close();
  return Number(/([\d.]+) tokens\/s/.exec(text)[1]);
}

async function nodeDecode() {
  const model = await loadModel(modelDir, { backend });
  const tokenizer = fromTokenizerJson(readFileSync(path.join(modelDir, "tokenizer.json"), "utf8"));
  // the sampling page's default prompt and chain, seed 1: the same tokens, so the same work
  const run = generate(model, [2047, ...tokenizer.encode("The jury said")], { maxTokens: DECODE_TOKENS, eos: 2047, sampler: new Sampler({ temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, seed: 1 }) });
  for (const _ of run);
  return run.stats.generateTokensPerSecond;
}

async function browserTraining() {
  const page = await context.newPage();
  await page.goto(`${base}/#/training`);
  await page.getByTestId("set-steps").fill(String(TRAIN_STEPS));
  await page.getByTestId("train").click();
  await page.getByTestId("done").waitFor({ timeout: 300_000 });
  const tps = Number(await page.getByTestId("tokens-per-second").textContent());
  const text = await page.getByTestId("text").inputValue();
  await page.close();
  return { tps, text };
}

// the training page's recipe (src/lib/training.ts, DEFAULT_SETUP), in Node
function nodeTraining(text) {
  const { tokenizer } = trainBpeWithReport(text, { vocabSize: 384, pattern: "cl100k", specialTokens: ["<|endoftext|>"], eosToken: "<|endoftext|>" });
  const config = modelConfig({ arch: "llama", vocabSize: tokenizer.vocabSize, dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 4, seqLen: 64 });
  const settings = resolveSettings({ steps: TRAIN_STEPS, batchSize: 8, lr: 3e-3, minLr: 3e-4, seed: 1337, evalEvery: 25, evalWindows: 8 });
  const trainer = new Trainer(new TransformerLM(config, { seed: 1337 }), new TokenDataset(tokenizer.encode(text), config.vocabSize, { seqLen: 64 }), settings);
  let ms = 0;
  for (let s = 0; s < TRAIN_STEPS; s++) ms += trainer.trainStep().ms;
  return (TRAIN_STEPS * trainer.tokensPerStep) / (ms / 1000);
}

try {
  const rows = { decode: { browser: 0, node: 0 }, training: { browser: 0, node: 0 } };
  // rounds alternate the two sides; each keeps its best round
  for (let r = 0; r < ROUNDS; r++) {
    rows.decode.browser = Math.max(rows.decode.browser, await browserDecode());
    rows.decode.node = Math.max(rows.decode.node, await nodeDecode());
    const { tps, text } = await browserTraining();
    rows.training.browser = Math.max(rows.training.browser, tps);
    rows.training.node = Math.max(rows.training.node, nodeTraining(text));
  }
  console.log(`wasm backend, ${THREADS} threads on both sides; best of ${ROUNDS} interleaved rounds`);
  console.log("| work | Chromium (playground page, Web Worker) | Node | Chromium ÷ Node |");
  console.log("|---|---:|---:|---:|");
  console.log(`| decode, embedded model, ${DECODE_TOKENS} tokens | ${rows.decode.browser.toFixed(0)} tokens/s | ${rows.decode.node.toFixed(0)} tokens/s | ${(rows.decode.browser / rows.decode.node).toFixed(2)} |`);
  console.log(`| training, tiny Llama (2 × 64), ${TRAIN_STEPS} steps | ${rows.training.browser.toFixed(0)} tokens/s | ${rows.training.node.toFixed(0)} tokens/s | ${(rows.training.browser / rows.training.node).toFixed(2)} |`);
} finally {
  await context.close();
  await server.close(1000);
  backend.dispose();
  rmSync(profile, { recursive: true, force: true });
}
