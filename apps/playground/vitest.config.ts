import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // One Chromium drives the pages in turn (browser tests in a single file share it); a shared
    // 2-core machine needs room for model loads and training in the page.
    testTimeout: 900_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    // a page's answer can take seconds on a loaded machine: polls wait for it (their own timeouts aside)
    expect: { poll: { timeout: 120_000, interval: 100 } },
  },
});
