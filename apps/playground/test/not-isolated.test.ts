// The playground served without COOP/COEP (any plain static server): the page is not
// cross-origin isolated, so the browser withholds SharedArrayBuffer. The header must say so, and
// a page that runs the model must still work, on one thread.
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, CHROMIUM_ARGS, distDir, skipReason } from "./helpers/browser";

const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json" };
let server: Server;
let base = "";
let context: BrowserContext;
let profile = "";

describe.skipIf(skipReason !== "")(`the playground without cross-origin isolation${skipReason ? ` (${skipReason})` : ""}`, () => {
  beforeAll(async () => {
    // a static server that sends no isolation headers
    server = createServer((req, res) => {
      const rel = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
      const file = path.join(distDir, rel === "/" ? "index.html" : rel);
      if (!file.startsWith(distDir) || !existsSync(file) || !statSync(file).isFile()) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream" });
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    profile = mkdtempSync(path.join(tmpdir(), "zllm-playground-plain-"));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await context?.close().catch(() => {});
    await new Promise((resolve) => server?.close(resolve));
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it("says it runs on one thread, and the attention page still runs the model (wasm, 1 thread)", async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/#/attention`);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
    expect(await page.locator("#threads").textContent()).toBe("WASM: 1 thread (not cross-origin isolated)");
    await page.getByTestId("walk-diff").waitFor({ timeout: 300_000 });
    expect(await page.getByTestId("model-info").textContent()).toMatch(/wasm, 1 thread backend/);
    expect(Number(await page.getByTestId("walk-diff").textContent())).toBeLessThan(1e-4);
    expect(errors).toEqual([]);
    await page.close();
  });
});
