/// <reference lib="webworker" />
import { depthExperiment, type DepthResult } from "../lib/depth";
import { workerBackend } from "../lib/backend";
import { serve } from "../lib/rpc";
import type { DepthProtocol } from "./depth-protocol";

const ready = workerBackend();

serve<DepthProtocol>({
  async run({ activation, bias, seed, inits }) {
    const { label } = await ready;
    const started = performance.now();
    const results: Record<string, DepthResult> = {};
    for (const init of inits) results[init] = depthExperiment({ init, activation, bias, seed });
    return { results, ms: performance.now() - started, backend: label };
  },
});
