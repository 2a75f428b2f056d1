import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // the Q4_K reference quantizer (21 candidate fits per sub-block, in float32 steps) takes a few
    // seconds over the 1000 generated rows alone, and several times that on a busy machine
    testTimeout: 300_000,
  },
});
