import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createWasmBackend, jsBackend, type Backend, type WasmBackend } from "@zero-llm/tensor";
import { createServer, loadServedModel, type ServedModel, type ServerOptions, type ZllmServer } from "../src/index";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The embedded default model (models/default at the repository root). */
export const DEFAULT_MODEL = path.resolve(here, "../../../models/default");
export const haveDefaultModel = existsSync(path.join(DEFAULT_MODEL, "model.safetensors"));

export interface Running {
  url: string;
  server: ZllmServer;
  served: ServedModel;
  backend: Backend;
  close(): Promise<void>;
}

/** The default model on a wasm backend (1 thread unless asked: tests share the machine) or the js backend. */
export async function openModel(kind: "wasm" | "js" = "wasm", maxBatchRows = 64, threads = 1): Promise<{ served: ServedModel; backend: Backend; dispose(): Promise<void> }> {
  const backend: Backend = kind === "wasm" ? await createWasmBackend({ threads }) : jsBackend;
  const served = await loadServedModel(DEFAULT_MODEL, { backend, id: "default", maxBatchRows });
  return { served, backend, dispose: async () => (kind === "wasm" ? (backend as WasmBackend).dispose() : undefined) };
}

export async function startServer(options: Partial<ServerOptions> = {}, kind: "wasm" | "js" = "wasm"): Promise<Running> {
  const { served, backend, dispose } = await openModel(kind);
  const server = createServer({ models: [served], ...options });
  const url = await server.listen(0);
  return {
    url,
    server,
    served,
    backend,
    close: async () => {
      await server.close(1000);
      await dispose();
    },
  };
}

/** A metric's value from /metrics text (a sample line without labels, or with exactly `labels`). */
export function metric(text: string, name: string, labels = ""): number {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}${labels} `)) return Number(line.slice(name.length + labels.length + 1));
  }
  return NaN;
}

export async function metrics(url: string, headers: Record<string, string> = {}): Promise<string> {
  return (await fetch(`${url}/metrics`, { headers })).text();
}

/**
 * Waits until `check` holds (polling every 10 ms), or throws after `ms`. The bound only turns a
 * condition that never comes into a failure instead of a hang, so it is generous: the official CI
 * runs ~10x slower than an idle machine, where 5 s (the old default) was already 10x what idle needs.
 */
export async function until(check: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Both places node:http can run (ServerOptions.httpThread): the HTTP-facing tests run on each. */
export const HTTP_THREADS = ["worker", "main"] as const;
