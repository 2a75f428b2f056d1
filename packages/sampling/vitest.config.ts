import { defineConfig } from "vitest/config";
import { allocationProjects } from "../../tools/test-helpers/alloc-projects";

export default defineConfig({
  test: {
    // the dev machine has 2 cores shared by several workspaces: at load 10+ statistical and
    // allocation tests that take 3 s alone take 10-30 s, past vitest's 5 s default
    testTimeout: 300_000,
    // the files that measure allocation per token run without concurrent compilation or inlining
    projects: allocationProjects("sampling", ["test/allocation.test.ts", "test/logprobs.test.ts"]),
  },
});
