// The playground in a real browser: the built dist/ served by @zero-llm/serve (the server
// `npm start` runs, COOP/COEP headers included) with the embedded model loaded for the API, and
// Debian's Chromium driven by playwright-core with a fresh profile. Every page event that a
// reader would call a bug is recorded: console errors, uncaught exceptions, failed requests and
// HTTP errors.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { createWasmBackend } from "@zero-llm/tensor";
import { createServer, loadServedModel, type ZllmServer } from "@zero-llm/serve";

export const CHROMIUM = "/usr/bin/chromium";
export const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const repoRoot = path.resolve(appDir, "../..");
export const distDir = path.join(appDir, "dist");
export const modelDir = path.join(repoRoot, "models/default");
export const adapterDir = path.join(repoRoot, "models/addition-lora");

/** Why the browser tests cannot run here, or "" when they can. */
export const skipReason = !existsSync(CHROMIUM)
  ? `skipped: no browser at ${CHROMIUM} (apt-get install -y chromium)`
  : !existsSync(path.join(distDir, "index.html"))
    ? "skipped: apps/playground/dist is missing (run the build first)"
    : "";

export const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
];

export interface Problems { console: string[]; failed: string[] }

export interface Session {
  baseUrl: string;
  server: ZllmServer;
  context: BrowserContext;
  /** A new page with its problems recorded. */
  open(hash: string): Promise<{ page: Page; problems: Problems }>;
  close(): Promise<void>;
}

export async function startSession(options: { viewport?: { width: number; height: number } } = {}): Promise<Session> {
  const backend = await createWasmBackend({ threads: 1 });
  const model = await loadServedModel(modelDir, { backend, id: "default" });
  const server = createServer({ models: [model], staticDir: distDir });
  const baseUrl = await server.listen(0);
  const profile = mkdtempSync(path.join(tmpdir(), "zllm-playground-"));
  // a fresh profile directory per session (playwright passes it as --user-data-dir)
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
    viewport: options.viewport ?? { width: 1440, height: 900 }, acceptDownloads: true,
  });
  return {
    baseUrl, server, context,
    async open(hash) {
      const page = await context.newPage();
      const problems: Problems = { console: [], failed: [] };
      page.on("console", (m) => { if (m.type() === "error") problems.console.push(m.text()); });
      page.on("pageerror", (e) => problems.console.push(`uncaught: ${e.message}`));
      page.on("requestfailed", (r) => {
        // a stream the page itself aborts (leaving the chat) is not a failure of the app
        if (r.failure()?.errorText !== "net::ERR_ABORTED") problems.failed.push(`${r.url()}: ${r.failure()?.errorText}`);
      });
      page.on("response", (r) => { if (r.status() >= 400) problems.failed.push(`${r.url()}: HTTP ${r.status()}`); });
      await page.goto(`${baseUrl}/#/${hash}`);
      return { page, problems };
    },
    async close() {
      await context.close().catch(() => {});
      await server.close(1000);
      backend.dispose();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
