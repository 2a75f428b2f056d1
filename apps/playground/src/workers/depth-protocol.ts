import type { Method } from "../lib/rpc";
import type { DepthActivation, DepthResult, InitName } from "../lib/depth";

export type DepthProtocol = {
  run: Method<{ activation: DepthActivation; bias: number; seed: number; inits: InitName[] }, { results: Record<string, DepthResult>; ms: number; backend: string }>;
};
