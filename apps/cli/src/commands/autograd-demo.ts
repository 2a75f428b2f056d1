import {
  INIT_SCHEMES,
  MLP,
  Rng,
  countDeadRelu,
  hingeLoss,
  l2Penalty,
  makeMoons,
  signAccuracy,
  type InitScheme,
} from "@zero-llm/autograd";
import { defineCommand, type CommandIO, type FlagTable, type ParsedArgs } from "../command";

/**
 * `zllm autograd demo`: the scalar engine end to end. An MLP 2-16-16-1 (ReLU) learns to separate
 * two interleaved half-moons with full-batch SGD on a max-margin loss, printing step, loss and
 * accuracy. It reports the share of dead ReLU units before and after training, and fails
 * (exit 1) unless the final loss is below TARGET_LOSS.
 */

export const TARGET_LOSS = 0.1;
const HIDDEN = [16, 16] as const;
const POINTS = 100;
const NOISE = 0.1;
const L2 = 1e-4;

export interface DemoOptions {
  steps: number;
  seed: number;
  init: InitScheme | "glorot" | "he";
  /** Learning rate at step 0; it decays linearly to 0.1·lr at the last step. */
  lr: number;
}

export interface DemoStep {
  step: number;
  loss: number;
  accuracy: number;
}

export interface DemoResult {
  options: DemoOptions;
  model: { sizes: number[]; activation: "relu"; parameters: number };
  data: { points: number; noise: number };
  target: number;
  deadRelu: { start: { dead: number; total: number }; end: { dead: number; total: number } };
  history: DemoStep[];
  final: DemoStep;
  passed: boolean;
  elapsedMs: number;
}

/** Trains and evaluates; `onStep` sees every step as it happens (the text output streams from it). */
export function runDemo(
  options: DemoOptions,
  onStep: (s: DemoStep) => void = () => {},
  onStart: (r: Pick<DemoResult, "model" | "deadRelu">) => void = () => {},
): DemoResult {
  const started = performance.now();
  const rng = new Rng(options.seed);
  const { inputs, labels } = makeMoons(POINTS, { noise: NOISE, rng });
  const mlp = new MLP(2, [...HIDDEN, 1], { activation: "relu", init: options.init, rng });
  const parameters = mlp.parameters();
  const model = { sizes: [2, ...HIDDEN, 1], activation: "relu" as const, parameters: parameters.length };
  const deadStart = countDeadRelu(mlp, inputs);
  onStart({ model, deadRelu: { start: deadStart, end: deadStart } });

  // loss = (1/n) Σ relu(1 − yᵢ·scoreᵢ) + α Σ p²
  const evaluate = (): { loss: ReturnType<typeof hingeLoss>; accuracy: number } => {
    const scores = inputs.map((x) => mlp.forward(x)[0]);
    return { loss: hingeLoss(scores, labels).add(l2Penalty(parameters, L2)), accuracy: signAccuracy(scores, labels) };
  };

  const history: DemoStep[] = [];
  for (let step = 0; step < options.steps; step++) {
    const { loss, accuracy } = evaluate();
    const record = { step, loss: loss.data, accuracy };
    history.push(record);
    onStep(record);
    if (!Number.isFinite(loss.data)) break; // diverged: the final check reports it
    mlp.zeroGrad();
    loss.backward();
    const lr = options.lr * (1 - (0.9 * step) / options.steps);
    for (const p of parameters) p.data -= lr * p.grad;
  }
  const last = evaluate();
  const final = { step: history.length, loss: last.loss.data, accuracy: last.accuracy };
  return {
    options,
    model,
    data: { points: POINTS, noise: NOISE },
    target: TARGET_LOSS,
    deadRelu: { start: deadStart, end: countDeadRelu(mlp, inputs) },
    history,
    final,
    passed: final.loss < TARGET_LOSS,
    elapsedMs: performance.now() - started,
  };
}

/** Why a run failed, in one line. */
export function failureMessage(result: Pick<DemoResult, "final" | "target">): string {
  const loss = result.final.loss;
  const found = Number.isFinite(loss) ? `final loss ${loss.toFixed(4)} is not below` : `final loss is ${loss} (training diverged), not below`;
  return `demo failed: ${found} the target ${result.target}`;
}

const percent = (x: number): string => `${(100 * x).toFixed(1)}%`;
const deadLine = (when: string, d: { dead: number; total: number }): string =>
  `dead ReLU units at ${when}: ${d.dead}/${d.total} (${percent(d.total === 0 ? 0 : d.dead / d.total)})`;

const FLAGS = {
  steps: { type: "number", description: "SGD steps", integer: true, min: 1, max: 100000, default: 100 },
  seed: { type: "number", description: "seed of the data and the initial weights", integer: true, min: 0, max: 4294967295, default: 1 },
  init: { type: "string", description: "weight init scheme", choices: [...INIT_SCHEMES, "glorot", "he"], default: "kaiming" },
  lr: { type: "number", description: "learning rate at step 0, decaying linearly to a tenth", min: 1e-6, max: 100, default: 1 },
  json: { type: "boolean", description: "print one JSON object (options, history, dead ReLUs, result) instead of text" },
} as const satisfies FlagTable;

function run(args: ParsedArgs<typeof FLAGS>, io: CommandIO): number {
  const { steps, seed, init, lr, json } = args.flags;
  const options: DemoOptions = { steps, seed, init, lr };
  const out = (line: string): void => void io.stdout.write(`${line}\n`);
  const every = Math.max(1, Math.floor(options.steps / 10));

  const result = runDemo(
    options,
    (s) => {
      if (!json && (s.step % every === 0 || s.step === options.steps - 1 || !Number.isFinite(s.loss))) {
        out(`step ${String(s.step).padStart(5)}  loss ${s.loss.toFixed(4)}  accuracy ${percent(s.accuracy).padStart(6)}`);
      }
    },
    ({ model, deadRelu }) => {
      if (json) return;
      out(`MLP ${model.sizes.join("-")} (relu, ${options.init} init, ${model.parameters} parameters) on ${POINTS} moons points, seed ${options.seed}`);
      out(`SGD for ${options.steps} steps, lr ${options.lr} decaying to ${+(options.lr * 0.1).toPrecision(6)}; loss = mean hinge + ${L2}·Σp²; target: loss < ${TARGET_LOSS}`);
      out(deadLine("start", deadRelu.start));
    },
  );

  if (json) {
    out(JSON.stringify(result));
  } else {
    out(deadLine("end", result.deadRelu.end));
    out(
      `final loss ${result.final.loss.toFixed(4)}, accuracy ${percent(result.final.accuracy)} after ${result.history.length} steps in ${(result.elapsedMs / 1000).toFixed(1)} s`,
    );
  }
  if (!result.passed) throw new Error(failureMessage(result));
  if (!json) out(`target reached: ${result.final.loss.toFixed(4)} < ${TARGET_LOSS}`);
  return 0;
}

export const autogradDemo = defineCommand({
  path: ["autograd", "demo"],
  summary: `Train a small MLP on two half-moons with the scalar Value engine (SGD; the loss must fall below ${TARGET_LOSS})`,
  usage: "autograd demo [--steps N] [--seed S] [--init NAME] [--lr X] [--json]",
  flags: FLAGS,
  run,
});
