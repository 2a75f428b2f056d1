import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // forks with a visible gc(): the memory tests force collections to count what survives a step
    pool: "forks",
    execArgv: ["--expose-gc"],
  },
});
