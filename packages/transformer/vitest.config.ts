import { defineConfig } from "vitest/config";

/**
 * The decode allocation tests run in processes whose V8 compiles synchronously and inlines
 * nothing, so their figure is the same on every run: with concurrent compilation an optimizing
 * compile can land anywhere in a measurement on a loaded machine, and with inlining whether a
 * callee that takes a double is inlined (no box) or called (a 16-byte box) depends on the budget
 * the whole process spent (the official CI once read 16 bytes per step for a gpt2 decode measured
 * after a llama one). Passing here is the stronger claim: nothing allocates even when V8 inlines
 * nothing. (packages/sampling/vitest.config.ts does the same.)
 */
const ALLOCATION_FILES = ["test/infer-allocation*.test.ts"];

export default defineConfig({
  test: {
    // the dev machine has 2 cores shared by several workspaces: at load 10+ the decode allocation
    // tests, 1-3 s alone, take 5-13 s under `npm test`, past vitest's 5 s default
    testTimeout: 300_000,
    projects: [
      { extends: true, test: { name: "transformer", exclude: [...ALLOCATION_FILES, "**/node_modules/**"] } },
      {
        extends: true,
        test: { name: "allocation", include: ALLOCATION_FILES, execArgv: ["--no-concurrent-recompilation", "--no-turbo-inlining"] },
      },
    ],
  },
});
