import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // the tests run a real model behind a real server, on a machine shared with other jobs
    testTimeout: 300_000,
    hookTimeout: 60_000,
  },
});
