import type { TestProjectInlineConfiguration } from "vitest/config";

/**
 * A package's vitest projects with its allocation-measuring files (alloc-probe.ts) apart, run in
 * processes whose V8 compiles synchronously and inlines nothing, so what they measure is the same
 * on every run:
 * - with concurrent compilation (the default) a hot function is optimized on a background thread,
 *   and on a loaded machine that compile can finish at any point of the measurement: the figure
 *   then depends on the load (the official CI once read 178 bytes per token for Mirostat);
 * - with inlining, whether a callee that takes or returns a double is inlined (no box) or called
 *   (a 16-byte box) depends on the inlining budget left, so on the feedback the whole process
 *   gathered (the official CI once read 16 bytes per step for a gpt2 decode measured after a
 *   llama one). Without it, every double that crosses a call is seen, on every run.
 * Passing there is the stronger claim: nothing allocates even when V8 inlines nothing.
 */
export function allocationProjects(name: string, allocationFiles: string[]): TestProjectInlineConfiguration[] {
  return [
    { extends: true, test: { name, exclude: [...allocationFiles, "**/node_modules/**"] } },
    {
      extends: true,
      test: { name: "allocation", include: allocationFiles, execArgv: ["--no-concurrent-recompilation", "--no-turbo-inlining"] },
    },
  ];
}
