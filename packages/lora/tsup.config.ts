import { defineConfig } from "tsup";

export default defineConfig({
  // the root entry is browser-safe; node/ (paths, directories, training runs) uses node:fs
  entry: { index: "src/index.ts", node: "src/node/index.ts" },
  format: ["esm", "cjs"],
  // one copy of the shared code for both entries, in CommonJS too (tsup's splitting for cjs): a
  // class the node entry hands out (GgufReader, Model, the error classes) is the root entry's
  // class, so instanceof holds across them
  splitting: true,
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
});
