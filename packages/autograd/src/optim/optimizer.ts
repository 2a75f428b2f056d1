import { AutogradError } from "../errors";
import type { Var } from "../tensor/var";
import { noGrad } from "../tensor/var";
import { persistentF32 } from "../tensor/alloc";

/**
 * Everything an optimizer needs to continue exactly where it stopped: the learning rate, the
 * per-parameter step counts and the per-parameter buffers (momentum, Adam moments), copied.
 * `buffers[name][i]` belongs to parameter i (null until its first step).
 */
export interface OptimizerState {
  lr: number;
  steps: number[];
  buffers: Record<string, (Float32Array | null)[]>;
  /**
   * The optimizer's other settings (betas, eps, weight decay, momentum…) and the element count
   * of each parameter, so a restore into a differently configured optimizer, or onto parameters
   * in another order, is refused instead of silently pairing the wrong numbers. Optional: a
   * state written without them is checked on buffers alone.
   */
  hyperparameters?: Record<string, number | boolean>;
  sizes?: number[];
}

/**
 * The shared shape of SGD, Adam and AdamW: a list of parameters, a learning rate you may change
 * between steps (schedules), and per-parameter state. A step skips parameters that are frozen
 * (requiresGrad false) or have no gradient yet, as PyTorch does.
 */
export abstract class Optimizer {
  lr: number;
  readonly params: readonly Var[];
  /** How many updates each parameter has received (Adam's bias correction uses it). */
  protected readonly steps: number[];
  protected readonly buffers: Record<string, (Float32Array | null)[]>;

  protected constructor(params: readonly Var[], lr: number, bufferNames: readonly string[]) {
    if (!(lr >= 0)) throw new AutogradError("AUTOGRAD_BAD_ARGUMENT", `optimizer: expected lr >= 0, found ${lr}`);
    this.params = [...params];
    this.lr = lr;
    this.steps = this.params.map(() => 0);
    this.buffers = Object.fromEntries(bufferNames.map((name) => [name, this.params.map(() => null)]));
  }

  /** Update every parameter that has a gradient. */
  step(): void {
    noGrad(() => {
      this.params.forEach((p, i) => {
        if (!p.requiresGrad || p.grad === null) return;
        this.steps[i]++;
        this.update(i, p.data, p.grad.storage);
      });
    });
  }

  /** One parameter's update: `param` in place, from `grad`. */
  protected abstract update(index: number, param: Float32Array, grad: Float32Array): void;

  /** The settings a saved state must agree with (everything but the learning rate, which schedules move). */
  abstract hyperparameters(): Record<string, number | boolean>;

  /** The buffer `name` of parameter i, created zero-filled on first use. */
  protected buffer(name: string, index: number): Float32Array {
    const list = this.buffers[name];
    let b = list[index];
    if (b === null) {
      b = persistentF32(this.params[index].size); // backend memory: the update kernel works in place
      list[index] = b;
    }
    return b;
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /** A deep copy of the state (restoring it reproduces later steps bit for bit). */
  stateDict(): OptimizerState {
    const buffers: OptimizerState["buffers"] = {};
    for (const [name, list] of Object.entries(this.buffers)) buffers[name] = list.map((b) => (b ? b.slice() : null));
    return { lr: this.lr, steps: [...this.steps], buffers, hyperparameters: this.hyperparameters(), sizes: this.params.map((p) => p.size) };
  }

  loadStateDict(state: OptimizerState): void {
    if (state.steps.length !== this.params.length) {
      throw new AutogradError("AUTOGRAD_STATE_DICT", `optimizer: expected state for ${this.params.length} parameters, found ${state.steps.length}`);
    }
    if (state.hyperparameters !== undefined) {
      const own = this.hyperparameters();
      for (const [key, value] of Object.entries(own)) {
        if (state.hyperparameters[key] !== value) {
          throw new AutogradError("AUTOGRAD_STATE_DICT", `optimizer: expected ${key} = ${value} as this optimizer was built with, found ${state.hyperparameters[key]} in the saved state`);
        }
      }
    }
    state.sizes?.forEach((size, i) => {
      if (this.params[i].size !== size) {
        throw new AutogradError("AUTOGRAD_STATE_DICT", `optimizer: parameter ${i}: expected state for ${this.params[i].size} values, found ${size} (parameters in another order?)`);
      }
    });
    for (const name of Object.keys(this.buffers)) {
      const list = state.buffers[name];
      if (list === undefined || list.length !== this.params.length) {
        throw new AutogradError("AUTOGRAD_STATE_DICT", `optimizer: expected buffer "${name}" for ${this.params.length} parameters, found ${list === undefined ? "none" : list.length}`);
      }
      list.forEach((b, i) => {
        if (b !== null && b.length !== this.params[i].size) {
          throw new AutogradError("AUTOGRAD_STATE_DICT", `optimizer: buffer "${name}" of parameter ${i}: expected ${this.params[i].size} values, found ${b.length}`);
        }
      });
    }
    this.lr = state.lr;
    state.steps.forEach((s, i) => (this.steps[i] = s));
    for (const name of Object.keys(this.buffers)) {
      this.buffers[name] = state.buffers[name].map((b) => (b ? b.slice() : null));
    }
  }
}

export interface SGDOptions {
  lr: number;
  /** μ (default 0: plain SGD). */
  momentum?: number;
  /** Fraction of the gradient kept out of the momentum buffer (default 0). */
  dampening?: number;
  /** L2 penalty added to the gradient (coupled, as torch.optim.SGD). */
  weightDecay?: number;
  nesterov?: boolean;
}

/**
 * SGD with momentum, PyTorch's formulation:
 *   g ← grad + λ·p
 *   buf ← g (first step),  buf ← μ·buf + (1 − dampening)·g (later)
 *   g ← g + μ·buf (Nesterov) or g ← buf
 *   p ← p − lr·g
 */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  constructor(params: readonly Var[], opts: SGDOptions) {
    super(params, opts.lr, ["momentum"]);
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
    this.nesterov = opts.nesterov ?? false;
  }

  hyperparameters(): Record<string, number | boolean> {
    return { momentum: this.momentum, dampening: this.dampening, weightDecay: this.weightDecay, nesterov: this.nesterov };
  }

  protected update(i: number, p: Float32Array, grad: Float32Array): void {
    const { momentum: mu, dampening, weightDecay: wd, lr } = this;
    const buf = mu !== 0 ? this.buffer("momentum", i) : null;
    const first = this.steps[i] === 1;
    for (let j = 0; j < p.length; j++) {
      let g = grad[j] + wd * p[j];
      if (buf) {
        buf[j] = first ? g : mu * buf[j] + (1 - dampening) * g;
        g = this.nesterov ? g + mu * buf[j] : buf[j];
      }
      p[j] -= lr * g;
    }
  }
}
