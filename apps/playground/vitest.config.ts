import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // One Chromium drives the pages in turn (browser tests in a single file share it); a shared
    // 2-core machine needs room for model loads and training in the page.
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
