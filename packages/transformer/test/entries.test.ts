// The root entry is browser-safe (models from a ByteSource or bytes); everything that takes a
// path (loadModel, writeGgufModel, trainRun, …) is in @zero-llm/transformer/node.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as root from "../src/index";
import * as node from "../src/node/index";

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist");

describe("entries", () => {
  it("path functions are in /node only", () => {
    for (const name of ["loadModel", "openCheckpoint", "writeGgufModel", "writeHfModel", "trainRun", "exportForInference", "readCheckpointFile", "removeStaleTempFiles"]) {
      expect(name in root, name).toBe(false);
      expect(typeof (node as Record<string, unknown>)[name], name).toBe("function");
    }
    expect(typeof root.checkpointFromSource).toBe("function");
    expect(typeof root.modelFromBytes).toBe("function");
  });

  it.skipIf(!existsSync(path.join(dist, "index.js")))("the built root entry and the chunks it loads import no file system module", () => {
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, "utf8");
      expect(text, file).not.toMatch(/["'](node:)?(fs|path)(\/promises)?["']/);
      for (const [, spec] of text.matchAll(/(?:from\s+|require\()"(\.\/[^"]+)"/g)) visit(path.join(dist, spec));
    };
    visit(path.join(dist, "index.js"));
    visit(path.join(dist, "index.cjs"));
    expect(seen.size).toBeGreaterThan(0);
  });
});
