// Tensor-level ops (the TS strided loops and the js reference kernels) against NumPy on the
// same shapes, measured in the same run. NumPy runs in a child process (single-threaded
// elementwise; BLAS pinned to 1 thread). Prints the median time of each op and ours / NumPy.
//
//   cd packages/tensor && npx tsup && node bench/tensor-ops.mjs
import { execFileSync } from "node:child_process";
import { add, layerNorm, ones, randn, softmax, sum, zeros, Rng } from "../dist/index.js";

const REPS = 15;

function median(times) {
  const s = [...times].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(fn) {
  for (let i = 0; i < 3; i++) fn();
  const times = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

const g = new Rng(1);
const a = randn([512, 1024], g);
const row = randn([1024], g);
const sq = randn([1024, 1024], g);
const logits = randn([256, 1024], g);
const w = ones([1024]), b = zeros([1024]);

const ours = {
  "add [512,1024] + [1024] (broadcast)": () => add(a, row),
  "add [512,1024] + [512,1024] (kernel)": () => add(a, a),
  "transpose [1024,1024] -> contiguous": () => sq.T.contiguous(),
  "sum axis 0 of [1024,1024]": () => sum(sq, 0),
  "sum axis 1 of [1024,1024]": () => sum(sq, 1),
  "softmax [256,1024] last axis": () => softmax(logits, -1),
  "softmax [256,1024] axis 0": () => softmax(logits, 0),
  "layerNorm [256,1024]": () => layerNorm(logits, w, b, 1e-5),
};

const numpyScript = `
import json, time, os
import numpy as np
rng = np.random.default_rng(1)
a = rng.standard_normal((512, 1024), dtype=np.float32)
row = rng.standard_normal(1024, dtype=np.float32)
sq = rng.standard_normal((1024, 1024), dtype=np.float32)
logits = rng.standard_normal((256, 1024), dtype=np.float32)
w = np.ones(1024, np.float32); b = np.zeros(1024, np.float32)
def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
def layer_norm(x):
    m = x.mean(-1, keepdims=True); v = x.var(-1, keepdims=True)
    return (x - m) / np.sqrt(v + 1e-5) * w + b
ops = {
  "add [512,1024] + [1024] (broadcast)": lambda: a + row,
  "add [512,1024] + [512,1024] (kernel)": lambda: a + a,
  "transpose [1024,1024] -> contiguous": lambda: np.ascontiguousarray(sq.T),
  "sum axis 0 of [1024,1024]": lambda: sq.sum(0),
  "sum axis 1 of [1024,1024]": lambda: sq.sum(1),
  "softmax [256,1024] last axis": lambda: softmax(logits, -1),
  "softmax [256,1024] axis 0": lambda: softmax(logits, 0),
  "layerNorm [256,1024]": lambda: layer_norm(logits),
}
out = {}
for name, fn in ops.items():
    for _ in range(3): fn()
    ts = []
    for _ in range(${REPS}):
        t0 = time.perf_counter(); fn(); ts.append((time.perf_counter() - t0) * 1000)
    out[name] = sorted(ts)[len(ts) // 2]
print(json.dumps({"numpy": np.__version__, "times": out}))
`;

const python = process.env.PYTHON ?? "python3";
const peer = JSON.parse(
  execFileSync(python, ["-c", numpyScript], {
    encoding: "utf8",
    env: { ...process.env, OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1" },
  }),
);

console.log(`@zero-llm/tensor (js backend, node ${process.version}) vs NumPy ${peer.numpy}, median of ${REPS}`);
console.log("op".padEnd(40) + "ours ms".padStart(10) + "numpy ms".padStart(10) + "ratio".padStart(8));
for (const [name, fn] of Object.entries(ours)) {
  const t = time(fn);
  const p = peer.times[name];
  console.log(name.padEnd(40) + t.toFixed(3).padStart(10) + p.toFixed(3).padStart(10) + `${(t / p).toFixed(2)}x`.padStart(8));
}
