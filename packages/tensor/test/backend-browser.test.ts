// The wasm backend in a real browser (Debian Chromium driven by playwright-core): the built
// dist/index.js is served from a local HTTP server to two pages, one cross-origin isolated
// (COOP/COEP headers: SharedArrayBuffer, Blob-URL Web Workers over a shared memory) and one
// not (plain memory, 1 thread only). On each page the js and wasm backends run the same seeded
// inputs and the results are compared here, with the tolerances of the Node parity tests.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as TensorPackage from "../src/index";
import { expectClose } from "./backend-helpers";

const CHROMIUM = "/usr/bin/chromium";
const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist");
const bundle = path.join(dist, "index.js");
const skipReason = !existsSync(CHROMIUM)
  ? `skipped: no browser at ${CHROMIUM} (apt-get install -y chromium)`
  : !existsSync(bundle)
    ? "skipped: dist/index.js is missing (run `pnpm build` first)"
    : "";

// What the page sends back: one entry per case and backend, results as plain arrays.
interface CaseResult { name: string; js: number[]; wasm1: number[]; wasm2: number[]; bound: number[] | null }
interface Isolated { crossOriginIsolated: boolean; shared: boolean[]; threads: number[]; results: CaseResult[] }
interface NotIsolated {
  crossOriginIsolated: boolean;
  sharedArrayBuffer: boolean;
  oneThread: { sharedMemory: boolean; js: number[]; wasm: number[] };
  twoThreads: { name: string; code: string } | null;
}
type Module = typeof TensorPackage;

// Runs in the page, so it is self-contained: it may use only its argument and `window.zllm`
// (this file's imports do not exist there). Each case draws its inputs from a seeded generator,
// runs them on js, wasm 1 thread and wasm 2 threads, and returns the three outputs (plus, for the
// dot products, Σ|a||b| per output: the scale of the f32 rounding error).
async function runIsolated(): Promise<Isolated> {
  const z = (window as unknown as { zllm: Module }).zllm;
  const rng = (seed: number) => {
    let s = seed >>> 0;
    return (lo = -1, hi = 1) => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = Math.imul(s ^ (s >>> 15), s | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
    };
  };
  const fill = (next: (lo?: number, hi?: number) => number, n: number, lo = -1, hi = 1) =>
    Float32Array.from({ length: n }, () => next(lo, hi));
  type Kernel = (be: TensorPackage.Backend, out: Float32Array) => void;
  const cases: Array<{ name: string; size: number; run: Kernel; bound?: Kernel }> = [];
  // above 2^20 flops (matmul), 2^15 weights (matvec) and 2^17 flops (attention) the 2-thread
  // backend splits the work across the worker, so the large cases exercise it
  for (const [m, k, n, transB] of [[3, 5, 7, 0], [64, 130, 70, 1], [65, 257, 33, 0]]) {
    const next = rng(m * 1000 + k + n);
    const a = fill(next, m * k), b = fill(next, k * n);
    const opts = { transB: transB === 1 };
    cases.push({
      name: `matmul ${m}x${k}x${n}${transB ? " transB" : ""}`, size: m * n,
      run: (be, out) => be.matmul(out, a, b, m, k, n, opts),
      bound: (be, out) => be.matmul(out, a.map(Math.abs), b.map(Math.abs), m, k, n, opts),
    });
  }
  for (const [rows, cols] of [[7, 9], [300, 130]]) {
    const next = rng(rows * 7 + cols);
    const w = fill(next, rows * cols), x = fill(next, cols);
    cases.push({
      name: `matvec ${rows}x${cols}`, size: rows,
      run: (be, out) => be.matvec(out, w, x, rows, cols),
      bound: (be, out) => be.matvec(out, w.map(Math.abs), x.map(Math.abs), rows, cols),
    });
  }
  for (const [rows, cols] of [[3, 5], [4, 1027]]) {
    const next = rng(rows * 31 + cols);
    const x = fill(next, rows * cols, -30, 30), weight = fill(next, cols);
    cases.push({ name: `softmax ${rows}x${cols}`, size: rows * cols, run: (be, out) => be.softmax(out, x, rows, cols) });
    cases.push({ name: `rmsnorm ${rows}x${cols}`, size: rows * cols, run: (be, out) => be.rmsnorm(out, x, weight, rows, cols, 1e-5) });
  }
  for (const [seqQ, seqKv, nHeads, nKvHeads, headDim] of [[1, 17, 6, 2, 6], [8, 40, 8, 2, 32]]) {
    const next = rng(seqQ * 101 + seqKv + headDim);
    const q = fill(next, seqQ * nHeads * headDim, -2, 2);
    const k = fill(next, seqKv * nKvHeads * headDim, -2, 2), v = fill(next, seqKv * nKvHeads * headDim);
    cases.push({
      name: `attention ${seqQ}/${seqKv} heads ${nHeads}/${nKvHeads}x${headDim}`, size: seqQ * nHeads * headDim,
      run: (be, out) => be.attention(out, q, k, v, seqQ, seqKv, nHeads, nKvHeads, headDim),
    });
  }
  const wasm1 = await z.createWasmBackend({ threads: 1 });
  const wasm2 = await z.createWasmBackend({ threads: 2 });
  const results = cases.map(({ name, size, run, bound }) => {
    const outputs = [z.jsBackend, wasm1, wasm2].map((be) => {
      const out = new Float32Array(size);
      run(be, out);
      return Array.from(out);
    });
    let scale: number[] | null = null;
    if (bound) {
      const out = new Float32Array(size);
      bound(z.jsBackend, out);
      scale = Array.from(out);
    }
    return { name, js: outputs[0], wasm1: outputs[1], wasm2: outputs[2], bound: scale };
  });
  const shared = [wasm1.sharedMemory, wasm2.sharedMemory], threads = [wasm1.threads, wasm2.threads];
  await wasm1.dispose();
  await wasm2.dispose();
  return { crossOriginIsolated: window.crossOriginIsolated, shared, threads, results };
}

async function runNotIsolated(): Promise<NotIsolated> {
  const z = (window as unknown as { zllm: Module }).zllm;
  const x = Float32Array.from({ length: 37 }, (_, i) => Math.sin(i) * 10);
  const js = new Float32Array(37), wasm = new Float32Array(37);
  z.jsBackend.softmax(js, x, 1, 37);
  const one = await z.createWasmBackend({ threads: 1 });
  one.softmax(wasm, x, 1, 37);
  const oneThread = { sharedMemory: one.sharedMemory, js: Array.from(js), wasm: Array.from(wasm) };
  await one.dispose();
  let twoThreads: NotIsolated["twoThreads"] = null;
  try {
    await z.createWasmBackend({ threads: 2 });
  } catch (error) {
    const e = error as { name: string; code: string };
    twoThreads = { name: e.name, code: e.code };
  }
  return {
    crossOriginIsolated: window.crossOriginIsolated,
    sharedArrayBuffer: typeof SharedArrayBuffer !== "undefined",
    oneThread,
    twoThreads,
  };
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>zero-llm tensor</title>
<script type="module">import * as zllm from "/index.js"; window.zllm = zllm; window.zllmReady = true;</script>`;

function serve(): Promise<Server> {
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    // COOP + COEP make /isolated.html cross-origin isolated; /plain.html gets neither header
    const isolation = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };
    if (url.pathname === "/isolated.html" || url.pathname === "/plain.html") {
      response.writeHead(200, { "Content-Type": "text/html; charset=utf-8", ...(url.pathname === "/isolated.html" ? isolation : {}) });
      response.end(PAGE);
    } else if (/^\/(index|chunk-[\w-]+|kernels-wasm-[\w-]+)\.js$/.test(url.pathname)) {
      // the root entry, the shared chunks it imports and the kernel builds it imports on demand
      // (never node.js: the browser needs none of it)
      response.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8", "Cross-Origin-Resource-Policy": "same-origin" });
      response.end(readFileSync(path.join(dist, url.pathname.slice(1))));
    } else {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

describe.skipIf(skipReason !== "")(`wasm backend in Chromium ${skipReason || "(dist/index.js over HTTP)"}`, () => {
  let server: Server;
  let context: BrowserContext;
  let origin = "";
  const profile = mkdtempSync(path.join(tmpdir(), "zllm-chromium-"));

  beforeAll(async () => {
    server = await serve();
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
      ],
    });
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    await new Promise((resolve) => server?.close(resolve));
    rmSync(profile, { recursive: true, force: true });
  });

  async function open(file: string): Promise<Page> {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${origin}/${file}`);
    await page.waitForFunction(() => (window as unknown as { zllmReady?: boolean }).zllmReady === true, null, { timeout: 10_000 });
    expect(errors).toEqual([]);
    return page;
  }

  it("cross-origin isolated: wasm at 1 and 2 threads (Web Workers, shared memory) matches js", async () => {
    const page = await open("isolated.html");
    const { crossOriginIsolated, shared, threads, results } = await page.evaluate(runIsolated);
    await page.close();
    expect(crossOriginIsolated).toBe(true);
    // createWasmBackend resolves only once the Blob-URL worker has instantiated the module
    expect(threads).toEqual([1, 2]);
    expect(shared).toEqual([true, true]);
    expect(results.map((r) => r.name.split(" ")[0])).toEqual([
      "matmul", "matmul", "matmul", "matvec", "matvec", "softmax", "rmsnorm", "softmax", "rmsnorm", "attention", "attention",
    ]);
    for (const { name, js, wasm1, wasm2, bound } of results) {
      for (const [label, actual] of [["1 thread", wasm1], ["2 threads", wasm2]] as const) {
        // the Node parity tests' tolerances: dot products 4e-6·Σ|a||b| per element (the f32
        // rounding bound); softmax 2e-6 relative; rmsnorm and attention (whose outputs are sums
        // of p·v that can cancel) 2e-6 relative + 1e-6
        try {
          if (bound) expectClose(actual, js, 1e-7, 0, bound.map((b) => b * 4e-6));
          else if (name.startsWith("softmax")) expectClose(actual, js, 1e-9, 2e-6);
          else expectClose(actual, js, 1e-6, 2e-6);
        } catch (error) {
          throw new Error(`${name}, wasm ${label}: ${(error as Error).message}`, { cause: error });
        }
      }
    }
  }, 300_000);

  it("not isolated: threads 1 runs on a plain memory, threads 2 fails with WASM_UNAVAILABLE", async () => {
    const page = await open("plain.html");
    const result = await page.evaluate(runNotIsolated);
    await page.close();
    expect(result.crossOriginIsolated).toBe(false);
    expect(result.sharedArrayBuffer).toBe(false);
    expect(result.oneThread.sharedMemory).toBe(false);
    expectClose(result.oneThread.wasm, result.oneThread.js, 1e-9, 2e-6);
    expect(result.twoThreads).toEqual({ name: "TensorError", code: "WASM_UNAVAILABLE" });
  }, 300_000);
});
