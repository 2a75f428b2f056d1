import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // forks with a visible gc(): the memory tests force collections to count what survives a step
    pool: "forks",
    execArgv: ["--expose-gc"],
    // a timeout catches hangs, not slowness: on a loaded 2-core machine tests that take 1-3 s
    // alone (the 100,000-node chain) pass vitest's 5 s default
    testTimeout: 300_000,
  },
});
