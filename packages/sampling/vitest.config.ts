import { defineConfig } from "vitest/config";

/**
 * The files that measure allocation per token. They run in processes whose V8 compiles
 * synchronously and inlines nothing, so what they measure is the same on every run:
 * - with concurrent compilation (the default) a hot function is optimized on a background thread,
 *   and on a loaded machine that compile can finish at any point of the measurement: the figure
 *   then depends on the load (the official CI once read 178 bytes per token for Mirostat);
 * - with inlining, whether a callee that takes or returns a double is inlined (no box) or called
 *   (a 16-byte box) depends on the inlining budget left, so on the feedback the whole process
 *   gathered. Without it, every double that crosses a call is seen, on every run.
 * Passing here is the stronger claim: nothing allocates even when V8 inlines nothing.
 */
const ALLOCATION_FILES = ["test/allocation.test.ts", "test/logprobs.test.ts"];

export default defineConfig({
  test: {
    // the dev machine has 2 cores shared by several workspaces: at load 10+ statistical and
    // allocation tests that take 3 s alone take 10-30 s, past vitest's 5 s default
    testTimeout: 300_000,
    projects: [
      { extends: true, test: { name: "sampling", exclude: [...ALLOCATION_FILES, "**/node_modules/**"] } },
      {
        extends: true,
        test: { name: "allocation", include: ALLOCATION_FILES, execArgv: ["--no-concurrent-recompilation", "--no-turbo-inlining"] },
      },
    ],
  },
});
