import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // the dev machine has 2 cores shared by several workspaces: at load 10+ the decode allocation
    // tests, 1-3 s alone, take 5-13 s under `npm test`, past vitest's 5 s default
    testTimeout: 120_000,
  },
});
