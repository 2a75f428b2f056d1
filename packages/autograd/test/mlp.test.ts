import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as autograd from "../src/index";
import { AutogradError, Layer, MLP, Neuron, Rng, ScalarModule, Value, countDeadRelu, mseLoss, nn, type Activation } from "../src/index";

interface MlpFixture {
  sizes: number[];
  activations: Activation[];
  weights: number[][][];
  biases: number[][];
  inputs: number[][];
  targets: number[];
  outputs: number[];
  loss: number;
  weightGrads: number[][][];
  biasGrads: number[][];
  inputGrads: number[][];
}

const fixture = JSON.parse(
  readFileSync(fileURLToPath(new URL("./fixtures/scalar_mlp.json", import.meta.url)), "utf8"),
) as MlpFixture;

function expectClose(actual: number, expected: number, tol = 1e-12): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(expected)));
}

describe("a 3-4-4-1 MLP against PyTorch float64 (tools/fixtures/make_scalar_mlp.py)", () => {
  const [nin, ...nouts] = fixture.sizes as [number, ...number[]];
  const mlp = new MLP(nin, nouts, { activation: fixture.activations.slice(0, -1), outputActivation: fixture.activations.at(-1)! });
  // Load the fixed weights: layer l, neuron j holds row j of W[l] and b[l][j] (torch.nn.Linear layout).
  mlp.layers.forEach((layer, l) =>
    layer.neurons.forEach((neuron, j) => {
      neuron.w.forEach((w, i) => (w.data = fixture.weights[l][j][i]!));
      neuron.b.data = fixture.biases[l][j]!;
    }),
  );
  const inputs = fixture.inputs.map((row) => row.map((x) => new Value(x)));
  const outputs = inputs.map((x) => mlp.forward(x)[0]);
  const loss = mseLoss(outputs, fixture.targets);
  mlp.zeroGrad();
  loss.backward();

  it("forward: every output and the loss agree to 1e-12", () => {
    outputs.forEach((y, n) => expectClose(y.data, fixture.outputs[n]));
    expectClose(loss.data, fixture.loss);
  });

  it("backward: every weight, bias and input gradient agrees to 1e-12", () => {
    mlp.layers.forEach((layer, l) =>
      layer.neurons.forEach((neuron, j) => {
        neuron.w.forEach((w, i) => expectClose(w.grad, fixture.weightGrads[l][j][i]));
        expectClose(neuron.b.grad, fixture.biasGrads[l][j]);
      }),
    );
    inputs.forEach((row, n) => row.forEach((x, i) => expectClose(x.grad, fixture.inputGrads[n][i])));
  });

  it("the fixture exercises the ReLU's both sides (some units on, some off)", () => {
    const relu = mlp.layers[1];
    const on = fixture.inputs.flatMap((x) => mlp.layerOutputs(x)[1].map((v) => v.data > 0));
    expect(relu.neurons[0].activation).toBe("relu");
    expect(on).toContain(true);
    expect(on).toContain(false);
  });
});

describe("Neuron, Layer, MLP", () => {
  it("parameters() lists weights then bias, neuron by neuron, layer by layer, with labels", () => {
    const mlp = new MLP(2, [3, 1], { rng: new Rng(7) });
    const params = mlp.parameters();
    expect(params.length).toBe(2 * 3 + 3 + 3 * 1 + 1);
    expect(params.slice(0, 3).map((p) => p.label)).toEqual(["l0.n0.w0", "l0.n0.w1", "l0.n0.b"]);
    expect(params.at(-1)!.label).toBe("l1.n0.b");
  });

  it("one name per engine: the scalar engine's ScalarModule is not the tensor engine's nn.Module; Module is its deprecated alias", () => {
    const mlp = new MLP(2, [3, 1], { rng: new Rng(1) });
    for (const m of [mlp, mlp.layers[0], mlp.layers[0].neurons[0]]) expect(m).toBeInstanceOf(ScalarModule);
    expect(mlp).not.toBeInstanceOf(nn.Module);
    expect(autograd.Module).toBe(ScalarModule);
  });

  it("the same seed gives the same network; zeroGrad() clears parameter grads", () => {
    const a = new MLP(3, [4, 2], { rng: new Rng(123), init: "xavier", activation: "tanh" });
    const b = new MLP(3, [4, 2], { rng: new Rng(123), init: "glorot", activation: "tanh" });
    expect(a.parameters().map((p) => p.data)).toEqual(b.parameters().map((p) => p.data));
    const out = Value.sum(a.forward([1, 2, 3]));
    out.backward();
    expect(a.parameters().some((p) => p.grad !== 0)).toBe(true);
    a.zeroGrad();
    expect(a.parameters().every((p) => p.grad === 0)).toBe(true);
  });

  it("a neuron computes act(w·x + b)", () => {
    const n = new Neuron(2, { activation: "tanh" });
    n.w[0].data = 0.5;
    n.w[1].data = -1;
    n.b.data = 0.25;
    expect(n.forward([2, 3]).data).toBeCloseTo(Math.tanh(1 - 3 + 0.25), 15);
  });

  it("bad sizes, names and input lengths throw typed errors", () => {
    const n = new Neuron(3);
    expect(() => n.forward([1, 2])).toThrow(expect.objectContaining({ code: "AUTOGRAD_INPUT_SIZE", message: "Neuron.forward: expected 3 inputs, found 2" }));
    expect(() => new Layer(0, 2)).toThrow(expect.objectContaining({ code: "AUTOGRAD_BAD_ARGUMENT" }));
    expect(() => new MLP(2, [])).toThrow(AutogradError);
    expect(() => new MLP(2, [3, 1], { activation: ["relu", "tanh"] })).toThrow(/expected 1 hidden-layer activations, found 2/);
    expect(() => new MLP(2, [3, 1], { init: "lecun" })).toThrow(expect.objectContaining({ code: "AUTOGRAD_UNKNOWN_NAME" }));
    expect(() => new Neuron(2, { activation: "swish" as Activation })).toThrow(/activation: expected one of linear, relu, tanh, sigmoid, gelu, found "swish"/);
  });
});

describe("init schemes", () => {
  const weightsOf = (init: string, nin: number, nout: number): number[] =>
    new Layer(nin, nout, { init, rng: new Rng(99) }).neurons.flatMap((n) => n.w.map((w) => w.data));

  it("kaiming: mean 0, std √(2/fanIn) (normal via Box–Muller)", () => {
    const w = weightsOf("kaiming", 50, 400); // 20,000 samples: the std estimate is within ~1%
    const mean = w.reduce((s, x) => s + x, 0) / w.length;
    const std = Math.sqrt(w.reduce((s, x) => s + (x - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(0.01 * Math.sqrt(2 / 50) * 3);
    expect(std / Math.sqrt(2 / 50)).toBeGreaterThan(0.97);
    expect(std / Math.sqrt(2 / 50)).toBeLessThan(1.03);
  });

  it("xavier: inside ±√(6/(fanIn+fanOut)) and filling it (uniform variance a²/3)", () => {
    const a = Math.sqrt(6 / (50 + 400));
    const w = weightsOf("xavier", 50, 400);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(a);
    const variance = w.reduce((s, x) => s + x * x, 0) / w.length;
    expect(variance / ((a * a) / 3)).toBeGreaterThan(0.97);
    expect(variance / ((a * a) / 3)).toBeLessThan(1.03);
  });

  it("uniform: inside [−1, 1); zeros: all 0; biases start at 0 in every scheme", () => {
    expect(weightsOf("uniform", 10, 10).every((x) => x >= -1 && x < 1)).toBe(true);
    expect(weightsOf("zeros", 10, 10).every((x) => x === 0)).toBe(true);
    expect(new Layer(3, 4, { init: "he" }).neurons.every((n) => n.b.data === 0)).toBe(true);
  });

  it("zeros: every hidden unit gets the same gradient, so symmetry is never broken", () => {
    const mlp = new MLP(2, [3, 1], { init: "zeros", activation: "tanh" });
    mlp.layers[1].neurons[0].w.forEach((w) => (w.data = 0.5)); // even with a nonzero output layer
    for (let step = 0; step < 5; step++) {
      const loss = mseLoss([mlp.forward([0.3, -0.8])[0], mlp.forward([-1, 0.4])[0]], [1, -1]);
      mlp.zeroGrad();
      loss.backward();
      for (const p of mlp.parameters()) p.data -= 0.1 * p.grad;
    }
    const hidden = mlp.layers[0].neurons.map((n) => n.parameters().map((p) => p.data));
    expect(hidden[1]).toEqual(hidden[0]);
    expect(hidden[2]).toEqual(hidden[0]);
  });
});

describe("countDeadRelu", () => {
  it("counts hidden ReLU units that are off for every input", () => {
    const mlp = new MLP(1, [3, 1], { activation: "relu" });
    const ws = [1, -1, 0];
    mlp.layers[0].neurons.forEach((n, j) => {
      n.w[0].data = ws[j]!;
      n.b.data = j === 2 ? -0.5 : 0;
    });
    // x ∈ {1, 2}: unit 0 on, unit 1 off (−x), unit 2 off (−0.5)
    expect(countDeadRelu(mlp, [[1], [2]])).toEqual({ dead: 2, total: 3 });
    expect(countDeadRelu(mlp, [[1], [-2]])).toEqual({ dead: 1, total: 3 });
    expect(countDeadRelu(new MLP(1, [3, 1], { activation: "tanh" }), [[1]])).toEqual({ dead: 0, total: 0 });
  });
  it("does not count the output layer, even when its activation is ReLU", () => {
    const mlp = new MLP(1, [2, 1], { activation: "tanh", outputActivation: "relu" });
    expect(countDeadRelu(mlp, [[1]])).toEqual({ dead: 0, total: 0 });
    const both = new MLP(1, [2, 1], { activation: "relu", outputActivation: "relu" });
    expect(countDeadRelu(both, [[1]]).total).toBe(2);
  });
});
