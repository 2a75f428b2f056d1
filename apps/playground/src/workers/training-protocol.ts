import type { TrainingSetup } from "../lib/training";
import type { Method } from "../lib/rpc";

export type TrainingEvent =
  | { kind: "ready"; tokens: number; vocabSize: number; parameters: number; backend: string; tokenizerMs: number }
  | { kind: "step"; step: number; loss: number; lr: number; tokensPerSecond: number }
  | { kind: "eval"; step: number; valLoss: number }
  | { kind: "sample"; step: number; text: string }
  | { kind: "paused"; step: number }
  | { kind: "resumed"; step: number };

export type TrainingProtocol = {
  train: Method<TrainingSetup, { steps: number; stopped: boolean; valLoss: number; ms: number }, TrainingEvent>;
  pause: Method<null, null>;
  resume: Method<null, null>;
  stop: Method<null, null>;
  checkpoint: Method<null, { bytes: Uint8Array; step: number }>;
  gguf: Method<null, { bytes: Uint8Array; step: number }>;
};
