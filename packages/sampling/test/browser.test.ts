// "Same seed, logits and settings → same token, in Node and in the browser": the built bundles
// (dist/index.js of this package and of @zero-llm/tensor, joined by an import map) run one
// workload in Debian's Chromium driven by playwright-core, and Node runs the same function; the
// token streams, the portable exp/log bits and the logprobs must be identical.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as tensor from "@zero-llm/tensor";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as sampling from "../src/index";

const CHROMIUM = "/usr/bin/chromium";
const here = path.dirname(fileURLToPath(import.meta.url));
// each package's whole dist/ is served (tensor's entries share code-split chunks beside them)
const dists = { "/sampling/": path.resolve(here, "../dist"), "/tensor/": path.resolve(here, "../../tensor/dist") };
const bundles = { "/sampling/index.js": path.join(dists["/sampling/"], "index.js"), "/tensor/index.js": path.join(dists["/tensor/"], "index.js") };
const skipReason = !existsSync(CHROMIUM)
  ? `skipped: no browser at ${CHROMIUM} (apt-get install -y chromium)`
  : Object.values(bundles).some((b) => !existsSync(b))
    ? "skipped: a dist/index.js is missing (run `pnpm build` first)"
    : "";

type Workload = { tokens: number[][]; expBits: string[]; logBits: string[]; logprobs: number[] };

// Runs in the page too, so it is self-contained: it uses only its two arguments.
function workload(z: typeof sampling, t: typeof tensor): Workload {
  const bits = (x: number): string => {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, x);
    return view.getBigUint64(0).toString(16);
  };
  const rng = new t.Rng(2026);
  // rows from exact arithmetic only (the Rng's uniform is integer bits over a power of two)
  const rows = Array.from({ length: 4 }, () => Float32Array.from({ length: 3000 }, () => 12 * rng.uniform() ** 3 - 3));
  const settings: sampling.SamplerOptions[] = [
    { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 },
    { temperature: 1.1, typicalP: 0.9, repetitionPenalty: 1.2, frequencyPenalty: 0.1, presencePenalty: 0.2 },
    { temperature: 0.7, topP: 0.9, dryMultiplier: 0.8, dryBreakers: [[5], [7, 8]] },
    { temperature: 0.9, xtcProbability: 0.5, xtcThreshold: 0.05 },
    { temperature: 1, mirostat: 2, mirostatTau: 4 },
  ];
  const tokens = settings.map((options, k) => {
    const s = new z.Sampler({ ...options, seed: 100 + k });
    const history: number[] = [1, 2, 3, 1, 2];
    for (let i = 0; i < 200; i++) history.push(s.sample(rows[i % rows.length], history));
    return history;
  });
  const xs = [-0.5, -3.75, -20.125, -700.5, 0.3, 5.5];
  const lp = new z.Logprobs(5);
  lp.compute(rows[0], 17);
  return {
    tokens,
    expBits: xs.map((x) => bits(z.portableExp(x))),
    logBits: xs.map((x) => bits(z.portableLog(Math.abs(x)))),
    logprobs: [lp.chosenLogprob, ...Array.from(lp.topLogprobs)],
  };
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>zero-llm sampling</title>
<script type="importmap">{ "imports": { "@zero-llm/tensor": "/tensor/index.js" } }</script>
<script type="module">
  import * as zllm from "/sampling/index.js";
  import * as tensor from "/tensor/index.js";
  window.zllm = zllm; window.tensor = tensor; window.zllmReady = true;
</script>`;

function serve(): Promise<Server> {
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const prefix = (Object.keys(dists) as (keyof typeof dists)[]).find((p) => url.pathname.startsWith(p));
    const name = prefix === undefined ? "" : url.pathname.slice(prefix.length);
    const file = prefix !== undefined && /^[\w.-]+\.js$/.test(name) && existsSync(path.join(dists[prefix], name)) ? path.join(dists[prefix], name) : undefined;
    if (url.pathname === "/") {
      response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      response.end(PAGE);
    } else if (file !== undefined) {
      response.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8" });
      response.end(readFileSync(file));
    } else {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

describe.skipIf(skipReason !== "")(`seeded sampling in Chromium ${skipReason || "(the built bundles over HTTP)"}`, () => {
  let server: Server;
  let context: BrowserContext;
  const profile = mkdtempSync(path.join(tmpdir(), "zllm-sampling-chromium-"));

  beforeAll(async () => {
    server = await serve();
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    await new Promise((resolve) => server?.close(resolve));
    rmSync(profile, { recursive: true, force: true });
  });

  it("the same tokens, exp/log bits and logprobs as in Node", async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => (window as unknown as { zllmReady?: boolean }).zllmReady === true, null, { timeout: 20_000 });
    const inBrowser = await page.evaluate<Workload>(`(${workload.toString()})(window.zllm, window.tensor)`);
    await page.close();
    expect(errors).toEqual([]);
    const inNode = workload(sampling, tensor);
    expect(inBrowser.tokens).toEqual(inNode.tokens);
    expect(inBrowser.expBits).toEqual(inNode.expBits);
    expect(inBrowser.logBits).toEqual(inNode.logBits);
    expect(inBrowser.logprobs).toEqual(inNode.logprobs);
    expect(new Set(inNode.tokens[0].slice(5)).size).toBeGreaterThan(5); // the streams really sample
  }, 300_000);
});
