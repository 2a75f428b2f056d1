import { defineConfig } from "tsup";

export default defineConfig({
  // the root entry is browser-safe; node/ (paths, directories, training runs) uses node:fs
  entry: { index: "src/index.ts", node: "src/node/index.ts" },
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
});
