import { defineConfig } from "vitest/config";
import { allocationProjects } from "../../tools/test-helpers/alloc-projects";

export default defineConfig({
  test: {
    // the dev machine has 2 cores shared by several workspaces: at load 10+ the decode allocation
    // tests, 1-3 s alone, take 5-13 s under `npm test`, past vitest's 5 s default
    testTimeout: 300_000,
    // the decode allocation tests run without concurrent compilation or inlining
    projects: allocationProjects("transformer", ["test/infer-allocation*.test.ts"]),
  },
});
