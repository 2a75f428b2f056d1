// Benchmark: one full-batch SGD step of the `zllm autograd demo` network (2-16-16-1 ReLU MLP,
// 100 moons points, ~37,000 scalar nodes per step) in the scalar Value engine, against PyTorch
// building the same per-scalar graph from 0-d float64 tensors, measured in the same run.
// Both start from the same weights; the losses of the first steps must agree to 1e-9.
//
//   cd packages/autograd && npx tsup && node bench/scalar-mlp.mjs [steps]
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { MLP, Rng, hingeLoss, l2Penalty, makeMoons, topologicalOrder } from "../dist/index.js";

const steps = Number(process.argv[2] ?? 10);
const rng = new Rng(1);
const { inputs, labels } = makeMoons(100, { noise: 0.1, rng });
const mlp = new MLP(2, [16, 16, 1], { activation: "relu", init: "kaiming", rng });
const params = mlp.parameters();
const initial = mlp.layers.map((l) => l.neurons.map((n) => ({ w: n.w.map((w) => w.data), b: n.b.data })));

let nodes = 0;
const losses = [];
const started = performance.now();
for (let step = 0; step < steps; step++) {
  const scores = inputs.map((x) => mlp.forward(x)[0]);
  const loss = hingeLoss(scores, labels).add(l2Penalty(params, 1e-4));
  if (step === 0) nodes = topologicalOrder(loss).length;
  mlp.zeroGrad();
  loss.backward();
  const lr = 1 - (0.9 * step) / steps;
  for (const p of params) p.data -= lr * p.grad;
  losses.push(loss.data);
}
const oursMs = (performance.now() - started) / steps;

const python = "/usr/bin/python3";
const peer = spawnSync(python, [fileURLToPath(new URL("./scalar-mlp.py", import.meta.url))], {
  input: JSON.stringify({ layers: initial, inputs, labels, steps, lr: 1 }),
  encoding: "utf8",
  maxBuffer: 1 << 24,
});
console.log(`scalar Value engine: ${oursMs.toFixed(1)} ms/step, ${nodes} nodes/step, ${((nodes / oursMs) * 1000 / 1e6).toFixed(2)} M nodes/s (forward + backward + update)`);
if (peer.status !== 0) {
  console.log(`PyTorch peer unavailable (${python}): ${(peer.stderr || peer.error?.message || "").trim().split("\n").at(-1)}`);
} else {
  const result = JSON.parse(peer.stdout);
  const worst = Math.max(...result.losses.map((l, i) => Math.abs(l - losses[i]) / Math.max(1, Math.abs(l))));
  console.log(`PyTorch 0-d float64 tensors, 1 thread: ${result.msPerStep.toFixed(1)} ms/step`);
  console.log(`ratio: Value engine is ${(result.msPerStep / oursMs).toFixed(1)}x faster; losses agree to ${worst.toExponential(1)} over ${steps} steps`);
  if (!(worst < 1e-9)) {
    console.error("bench: the two engines disagree");
    process.exitCode = 1;
  }
}
