import type { CheckpointState } from "@zero-llm/transformer";
import type { TrainRunOptions } from "@zero-llm/transformer/node";
import { UsageError } from "../command";
import type { TrainFlags } from "./train-flags";

/**
 * What `zllm train --resume` may change. A resumed run is the checkpoint's run: its model and
 * optimizer settings are stored in the checkpoint and used as they are. Giving one of those flags
 * (on the command line or in --config) with another value is a usage error naming the flag and
 * both values, never a silent override or a silent ignore. Three flags may change:
 *
 *   --steps             the run's new total (extend a finished or interrupted run, or shorten an
 *                       unfinished one down to the step reached); the warmup + cosine schedule is
 *                       redefined over the new total from the next step on
 *   --eval-every        bookkeeping only: no effect on the weights
 *   --checkpoint-every
 */

/** flag → the checkpoint's value of it. */
type FixedFlag = "arch" | "dim" | "layers" | "heads" | "kv-heads" | "hidden" | "seq-len" | "vocab" | "batch" | "grad-accum" | "lr" | "min-lr" | "warmup" | "weight-decay" | "grad-clip" | "dropout" | "seed" | "val-fraction";

const FIXED: readonly [flag: FixedFlag, value: (s: CheckpointState) => number | string][] = [
  ["arch", (s) => s.config.arch],
  ["dim", (s) => s.config.dim],
  ["layers", (s) => s.config.nLayers],
  ["heads", (s) => s.config.nHeads],
  ["kv-heads", (s) => s.config.nKvHeads],
  ["hidden", (s) => s.config.hiddenDim],
  ["seq-len", (s) => s.config.seqLen],
  ["vocab", (s) => s.config.vocabSize],
  ["batch", (s) => s.settings.batchSize],
  ["grad-accum", (s) => s.settings.gradAccum],
  ["lr", (s) => s.settings.lr],
  ["min-lr", (s) => s.settings.minLr],
  ["warmup", (s) => s.settings.warmupSteps],
  ["weight-decay", (s) => s.settings.weightDecay],
  ["grad-clip", (s) => s.settings.gradClip],
  ["dropout", (s) => s.settings.dropout],
  ["seed", (s) => s.settings.seed],
  ["val-fraction", (s) => s.settings.valFraction],
];

const CHANGEABLE = "only --steps, --eval-every and --checkpoint-every may change on --resume";

/**
 * Checks the flags given with --resume against the checkpoint and returns the settings that
 * change. Absent flags (undefined) keep the checkpoint's values.
 */
export function resumeSettingsFrom(f: TrainFlags, state: CheckpointState, checkpointFile: string): NonNullable<TrainRunOptions["resumeSettings"]> {
  for (const [flag, value] of FIXED) {
    const given = f[flag];
    if (given === undefined) continue;
    const stored = value(state);
    if (given !== stored) {
      throw new UsageError(`--${flag} ${given} differs from the checkpoint's ${stored} (${checkpointFile}): a resumed run keeps its model and optimizer settings; ${CHANGEABLE}`);
    }
  }
  // --untied is a bare boolean: only its presence says anything
  if (f.untied && state.config.tiedEmbeddings) {
    throw new UsageError(`--untied differs from the checkpoint's tied embeddings (${checkpointFile}); ${CHANGEABLE}`);
  }
  const { steps } = f;
  if (steps !== undefined && steps < state.step) {
    throw new UsageError(`--steps ${steps}: expected at least the ${state.step} steps the checkpoint has done`);
  }
  if (steps !== undefined && steps < state.settings.warmupSteps) {
    throw new UsageError(`--steps ${steps}: expected at least the run's ${state.settings.warmupSteps} warmup steps`);
  }
  return {
    ...(steps !== undefined ? { steps } : {}),
    ...(f["eval-every"] !== undefined ? { evalEvery: f["eval-every"] } : {}),
    ...(f["checkpoint-every"] !== undefined ? { checkpointEvery: f["checkpoint-every"] } : {}),
  };
}
