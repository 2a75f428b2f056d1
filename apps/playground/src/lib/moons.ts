import { MLP, Rng, countDeadRelu, hingeLoss, l2Penalty, makeMoons, signAccuracy, type Value } from "@zero-llm/autograd";

/**
 * The two-moons MLP, trained the way `zllm autograd demo` trains it (apps/cli/src/commands/
 * autograd-demo.ts): 100 points with noise 0.1 and the MLP 2-16-16-1 (ReLU, Kaiming) drawn from
 * one Rng(seed); loss = mean hinge + 1e-4·Σp²; full-batch SGD whose rate falls linearly from lr
 * to lr/10. With the same seed, steps and lr, the page's losses are the CLI's.
 */
export const MOONS = { points: 100, noise: 0.1, hidden: [16, 16], l2: 1e-4 } as const;

export interface MoonsStep { step: number; loss: number; accuracy: number; dead: number; total: number }

export class MoonsTrainer {
  readonly inputs: number[][];
  readonly labels: number[];
  readonly mlp: MLP;
  private readonly parameters: Value[];
  step = 0;

  constructor(readonly seed: number, readonly steps: number, readonly lr: number) {
    const rng = new Rng(seed);
    const data = makeMoons(MOONS.points, { noise: MOONS.noise, rng });
    this.inputs = data.inputs;
    this.labels = data.labels;
    this.mlp = new MLP(2, [...MOONS.hidden, 1], { activation: "relu", init: "kaiming", rng });
    this.parameters = this.mlp.parameters();
  }

  private evaluate(): { loss: Value; accuracy: number } {
    const scores = this.inputs.map((x) => this.mlp.forward(x)[0]);
    return { loss: hingeLoss(scores, this.labels).add(l2Penalty(this.parameters, MOONS.l2)), accuracy: signAccuracy(scores, this.labels) };
  }

  /** One SGD step; returns the loss and accuracy measured before the update (as the CLI prints them). */
  trainStep(): MoonsStep {
    const { loss, accuracy } = this.evaluate();
    const record = { step: this.step, loss: loss.data, accuracy, ...countDeadRelu(this.mlp, this.inputs) };
    if (Number.isFinite(loss.data)) {
      this.mlp.zeroGrad();
      loss.backward();
      const lr = this.lr * (1 - (0.9 * this.step) / this.steps);
      for (const p of this.parameters) p.data -= lr * p.grad;
    }
    this.step++;
    return record;
  }

  /**
   * The network's score on a grid × grid lattice over [x0, x1] × [y0, y1], rows from the top,
   * computed with plain numbers from the parameters' data (no graph: 1,600 points per frame).
   */
  scoreGrid(grid: number, x0: number, x1: number, y0: number, y1: number): Float32Array {
    const layers = this.mlp.layers.map((layer) => layer.neurons.map((n) => ({ w: n.w.map((v) => v.data), b: n.b.data, relu: n.activation === "relu" })));
    const out = new Float32Array(grid * grid);
    for (let r = 0; r < grid; r++) {
      for (let c = 0; c < grid; c++) {
        let h = [x0 + ((c + 0.5) / grid) * (x1 - x0), y1 - ((r + 0.5) / grid) * (y1 - y0)];
        for (const layer of layers) {
          h = layer.map((n) => {
            let z = n.b;
            for (let i = 0; i < n.w.length; i++) z += n.w[i] * h[i];
            return n.relu ? Math.max(0, z) : z;
          });
        }
        out[r * grid + c] = h[0];
      }
    }
    return out;
  }
}
