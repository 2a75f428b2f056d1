import type { Tensor } from "@zero-llm/tensor";
import { formatShape } from "@zero-llm/tensor";
import { AutogradError } from "../errors";
import { Var } from "../tensor/var";

/**
 * The base of every layer: a tree of named parameters and named child modules. Names join with
 * dots, Hugging Face style: a `Linear` registered as "q_proj" inside a module registered as
 * "self_attn" inside "layers.0" owns "layers.0.self_attn.q_proj.weight".
 *
 * Subclasses register what they own in their constructor (`this.param("weight", t)`,
 * `this.child("q_proj", new Linear(…))`) and implement their own forward.
 */
export class Module {
  /** Train mode (dropout active) or eval mode; set for the whole tree by train()/eval(). */
  training = true;
  private readonly ownParams = new Map<string, Var>();
  private readonly children = new Map<string, Module>();

  /** Register a trainable parameter under `name` and return it. */
  protected param(name: string, value: Tensor): Var {
    const p = new Var(value, { requiresGrad: true });
    this.ownParams.set(name, p);
    return p;
  }

  /** Register a child module under `name` and return it. */
  protected child<M extends Module>(name: string, module: M): M {
    this.children.set(name, module);
    return module;
  }

  /** Every parameter with its dotted name, depth-first in registration order. */
  namedParameters(prefix = ""): [string, Var][] {
    const out: [string, Var][] = [];
    for (const [name, p] of this.ownParams) out.push([prefix + name, p]);
    for (const [name, m] of this.children) out.push(...m.namedParameters(`${prefix}${name}.`));
    return out;
  }

  /** Every parameter; with `trainableOnly`, only those that are not frozen. */
  parameters(opts: { trainableOnly?: boolean } = {}): Var[] {
    const all = this.namedParameters().map(([, p]) => p);
    return opts.trainableOnly ? all.filter((p) => p.requiresGrad) : all;
  }

  /** Every module in the tree (this one first, named ""), with its dotted name. */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix.replace(/\.$/, ""), this]];
    for (const [name, m] of this.children) out.push(...m.namedModules(`${prefix}${name}.`));
    return out;
  }

  /** Total element count of the parameters (all, or trainable only). */
  numParameters(opts: { trainableOnly?: boolean } = {}): number {
    return this.parameters(opts).reduce((n, p) => n + p.size, 0);
  }

  /** Train mode for the whole tree (dropout on). */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Eval mode for the whole tree (dropout off). */
  eval(): this {
    return this.train(false);
  }

  /** Stop gradients to every parameter of this tree (LoRA freezes the base model this way). */
  freeze(): this {
    for (const p of this.parameters()) p.requiresGrad = false;
    return this;
  }

  unfreeze(): this {
    for (const p of this.parameters()) p.requiresGrad = true;
    return this;
  }

  /** Forget every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** A copy of every parameter by dotted name (torch state_dict). */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters().map(([name, p]) => [name, p.value.clone()]));
  }

  /**
   * Copy values in by dotted name. Shapes must match. With `strict` (default) the names must be
   * exactly this module's; otherwise missing and unexpected names are returned, not thrown.
   */
  loadStateDict(state: ReadonlyMap<string, Tensor>, opts: { strict?: boolean } = {}): { missing: string[]; unexpected: string[] } {
    const params = new Map(this.namedParameters());
    const missing = [...params.keys()].filter((k) => !state.has(k));
    const unexpected = [...state.keys()].filter((k) => !params.has(k));
    if ((opts.strict ?? true) && (missing.length > 0 || unexpected.length > 0)) {
      throw new AutogradError("AUTOGRAD_STATE_DICT", `loadStateDict: expected exactly this module's parameters; missing [${missing.join(", ")}], unexpected [${unexpected.join(", ")}]`);
    }
    for (const [name, p] of params) {
      const t = state.get(name);
      if (t === undefined) continue;
      if (t.size !== p.size || t.ndim !== p.ndim || t.shape.some((d, i) => d !== p.shape[i])) {
        throw new AutogradError("AUTOGRAD_STATE_DICT", `loadStateDict: ${name}: expected shape ${formatShape(p.shape)}, found ${formatShape(t.shape)}`);
      }
      p.data.set(t.contiguous().data);
    }
    return { missing, unexpected };
  }
}

/** An ordered list of modules registered as "0", "1", … (names like "layers.3.mlp"). */
export class ModuleList<M extends Module> extends Module {
  readonly items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  push(module: M): void {
    this.child(String(this.items.length), module);
    this.items.push(module);
  }

  get length(): number {
    return this.items.length;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}
