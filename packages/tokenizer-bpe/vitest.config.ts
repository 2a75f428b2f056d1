import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // a timeout catches hangs, not slowness: on a loaded 2-core machine tests that take 1-3 s
    // alone pass vitest's 5 s default
    testTimeout: 300_000,
    hookTimeout: 60_000,
  },
});
