// The tensor engine and the scalar Value engine agree on a small MLP (same weights, same data):
// loss and every gradient, to float32 precision (the scalar engine runs in float64).
import { describe, expect, it } from "vitest";
import { Rng, Tensor } from "@zero-llm/tensor";
import { F, MLP, Value, Var, mseLoss, param } from "../src/index";

describe("tensor engine vs scalar engine on a 3-8-8-1 tanh MLP", () => {
  const sizes = [3, 8, 8, 1];
  const scalar = new MLP(3, sizes.slice(1), { activation: "tanh", rng: new Rng(5) });
  const g = new Rng(5);
  const n = 10;
  const inputs = Array.from({ length: n }, () => Array.from({ length: 3 }, () => g.uniform() * 2 - 1));
  const targets = Array.from({ length: n }, () => g.uniform() * 2 - 1);

  // Weights for the tensor side: W[l] [out, in] holds neuron j's weights in row j.
  const toF32 = (v: number): number => Math.fround(v);
  scalar.layers.forEach((layer) => layer.neurons.forEach((neuron) => {
    neuron.w.forEach((w) => (w.data = toF32(w.data)));
    neuron.b.data = toF32(neuron.b.data);
  }));
  const weights = scalar.layers.map((layer) =>
    param(new Tensor(Float32Array.from(layer.neurons.flatMap((nr) => nr.w.map((w) => w.data))), [layer.neurons.length, layer.neurons[0].w.length])));
  const biases = scalar.layers.map((layer) => param(new Tensor(Float32Array.from(layer.neurons.map((nr) => nr.b.data)), [layer.neurons.length])));

  const scalarLoss = mseLoss(inputs.map((x) => scalar.forward(x.map((v) => new Value(toF32(v))))[0]), targets);
  scalar.zeroGrad();
  scalarLoss.backward();

  let h = new Var(new Tensor(Float32Array.from(inputs.flat()), [n, 3]));
  weights.forEach((w, l) => {
    h = F.linear(h, w, biases[l]);
    if (l < weights.length - 1) h = F.tanh(h);
  });
  const tensorLoss = F.mseLoss(F.reshape(h, [n]), new Tensor(Float32Array.from(targets), [n]));
  tensorLoss.backward();

  it("same loss (relative 1e-6)", () => {
    expect(Math.abs(tensorLoss.item() - scalarLoss.data) / scalarLoss.data).toBeLessThan(1e-6);
  });

  it("same gradient for every weight and bias (|diff| <= 1e-6 + 1e-5·|g|)", () => {
    let compared = 0;
    scalar.layers.forEach((layer, l) => layer.neurons.forEach((neuron, j) => {
      neuron.w.forEach((w, i) => {
        const ours = weights[l].grad!.data[j * neuron.w.length + i];
        expect(Math.abs(ours - w.grad)).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(w.grad));
        compared++;
      });
      const ours = biases[l].grad!.data[j];
      expect(Math.abs(ours - neuron.b.grad)).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(neuron.b.grad));
      compared++;
    }));
    expect(compared).toBe(3 * 8 + 8 + 8 * 8 + 8 + 8 + 1);
  });
});
