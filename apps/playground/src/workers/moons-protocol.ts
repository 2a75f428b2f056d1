import type { Method } from "../lib/rpc";
import type { MoonsStep } from "../lib/moons";

export interface MoonsFrame extends MoonsStep {
  /** Sent with the first frame: the training points. */
  points?: { inputs: number[][]; labels: number[] };
  /** The score on the grid (rows from the top), every few steps. */
  grid?: Float32Array;
  stepsPerSecond: number;
}

export const MOONS_GRID = { size: 48, x0: -1.6, x1: 2.6, y0: -1.1, y1: 1.6 } as const;

export type MoonsProtocol = {
  train: Method<{ seed: number; steps: number; lr: number; frameEvery: number }, { final: MoonsStep; ms: number; stopped: boolean }, MoonsFrame>;
  stop: Method<null, null>;
};
