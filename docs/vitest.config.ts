import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // the programs run one after the other (some measure time); a slow shared machine needs room
    testTimeout: 600_000,
    hookTimeout: 60_000,
  },
});
