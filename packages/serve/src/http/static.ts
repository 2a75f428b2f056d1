import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { ServeError } from "../errors";
import type { HttpResponse } from "./exchange";

/**
 * Static files (the playground's built `dist/`) under `/`. Every response carries
 * Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp: the
 * page is then cross-origin isolated, which browsers require before they give it
 * SharedArrayBuffer, and so the wasm backend's threads.
 */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
};

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".woff2": "font/woff2",
};

/**
 * Serves `urlPath` from `root` (index.html for a directory). Paths are decoded, normalised and must
 * stay inside root; dot-files are not served. A missing file or root is a 404 naming the path.
 */
export async function serveStatic(res: HttpResponse, root: string | undefined, urlPath: string, head: boolean): Promise<void> {
  let relative: string;
  try {
    relative = decodeURIComponent(urlPath);
  } catch (e) {
    throw new ServeError("not_found", `Not found: expected a URL-encoded path, found ${JSON.stringify(urlPath)}.`, { cause: e });
  }
  if (!root) {
    throw new ServeError("not_found", `Not found: ${urlPath} (no static directory is served: the playground is not built; the API is under /v1).`);
  }
  const base = path.resolve(root);
  let file = path.resolve(base, `.${path.posix.normalize(`/${relative}`)}`);
  if (!file.startsWith(base + path.sep) && file !== base) throw new ServeError("not_found", `Not found: ${urlPath}.`);
  if (path.relative(base, file).split(path.sep).some((part) => part.startsWith("."))) throw new ServeError("not_found", `Not found: ${urlPath}.`);
  let info = await stat(file).catch(() => undefined);
  if (info?.isDirectory()) {
    file = path.join(file, "index.html");
    info = await stat(file).catch(() => undefined);
  }
  if (!info?.isFile()) throw new ServeError("not_found", `Not found: ${urlPath}.`);
  res.writeHead(200, {
    ...ISOLATION_HEADERS,
    "Content-Type": TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream",
    "Content-Length": info.size,
    "Cache-Control": "no-cache",
  });
  if (head) {
    res.end();
    return;
  }
  // the file in chunks, each written when the response has taken the previous ones (a response
  // whose client stops reading is closed by the transport, which ends the loop)
  try {
    for await (const chunk of createReadStream(file)) {
      if (res.destroyed) return;
      if (!res.write(chunk as Buffer)) {
        await new Promise<void>((resolve) => {
          const go = (): void => {
            res.off("drain", go);
            res.off("close", go);
            resolve();
          };
          res.once("drain", go);
          res.once("close", go);
        });
      }
    }
    res.end();
  } catch {
    res.destroy();
  }
}
