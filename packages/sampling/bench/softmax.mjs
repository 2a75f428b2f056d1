// The chain at its most exp-bound: temperature 0.8 with nothing truncated (OpenAI's default
// distribution), so every token's draw needs the exponential of every logit. On the embedded
// model's 2,048-token vocabulary (what a server streaming that model pays per token) and on
// 32,000. Peers in the same run, interleaved (tools/bench-helpers/race.mjs):
// - the same softmax and inverse-CDF draw written with Math.exp (not portable across engines:
//   what the portable exp costs or saves);
// - with --compare, the Sampler of another checkout (its packages/sampling/dist/index.js): a
//   before/after on one machine.
//
// Two figures per contestant: wall-clock (the best interleaved sample, tools/bench-helpers/race.mjs)
// and CPU time (the median of interleaved samples timed with process.cpuUsage), which survives a
// loaded machine better: time spent descheduled is not counted.
//
//   cd packages/sampling && npx tsup && node bench/softmax.mjs [--compare OTHER/packages/sampling/dist/index.js]
import { loadavg } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Rng } from "@zero-llm/tensor";
import { bestMsPerCall } from "../../../tools/bench-helpers/race.mjs";
import { Sampler } from "../dist/index.js";

/** CPU milliseconds per call of each contestant: samples of ~20 ms taken in turns, the median kept. */
function medianCpuMsPerCall(contestants, budgetMs) {
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const entries = Object.entries(contestants).map(([key, fn]) => {
    let reps = 1;
    for (;;) {
      const t0 = cpuMs();
      for (let r = 0; r < reps; r++) fn();
      if (cpuMs() - t0 > 20 || reps > 1 << 20) return { key, fn, reps, samples: [] };
      reps *= 2;
    }
  });
  const end = performance.now() + budgetMs * entries.length;
  while (performance.now() < end) {
    for (const e of entries) {
      const t0 = cpuMs();
      for (let r = 0; r < e.reps; r++) e.fn();
      e.samples.push((cpuMs() - t0) / e.reps);
    }
  }
  return Object.fromEntries(entries.map((e) => [e.key, e.samples.sort((a, b) => a - b)[e.samples.length >> 1]]));
}

const { values } = parseArgs({ options: { compare: { type: "string" }, budget: { type: "string", default: "1500" } } });
const other = values.compare ? await import(path.resolve(values.compare)) : undefined;

/** Softmax at 1/temperature and an inverse-CDF draw in id order, with Math.exp. */
function mathExpSample(row, invT, probs, u) {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += probs[i] = Math.exp((row[i] - max) * invT);
  const target = u * sum;
  let cumulative = 0;
  for (let i = 0; i < row.length; i++) if (target < (cumulative += probs[i])) return i;
  return row.length - 1;
}

console.log(`temperature 0.8, nothing truncated; µs per token; load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
console.log(`| vocabulary | timing | ours | Math.exp softmax + draw | ours ÷ Math.exp |${other ? " compared checkout | ours ÷ compared |" : ""}`);
console.log(`|---:|---|---:|---:|---:|${other ? "---:|---:|" : ""}`);
for (const vocab of [2048, 32000]) {
  const rng = new Rng(7);
  // rows shaped like a language model's logits: a broad body and a few dozen likely tokens
  const rows = Array.from({ length: 8 }, () => {
    const row = new Float32Array(vocab);
    for (let i = 0; i < vocab; i++) row[i] = rng.normal(0, 2);
    for (let k = 0; k < 40; k++) row[rng.int(vocab)] += 6 + 6 * rng.uniform();
    return row;
  });
  const probs = new Float64Array(vocab);
  let t = 0, sink = 0;
  const ours = new Sampler({ temperature: 0.8, seed: 1 });
  const theirs = other ? new other.Sampler({ temperature: 0.8, seed: 1 }) : undefined;
  const contestants = {
    ours: () => (sink += ours.sample(rows[t++ & 7])),
    mathExp: () => (sink += mathExpSample(rows[t++ & 7], 1 / 0.8, probs, rng.uniform())),
    ...(theirs ? { theirs: () => (sink += theirs.sample(rows[t++ & 7])) } : {}),
  };
  const us = (x) => (x * 1000).toFixed(1);
  const timings = [
    ["wall, best", bestMsPerCall(contestants, Number(values.budget))],
    ["CPU, median", medianCpuMsPerCall(contestants, Number(values.budget))],
  ];
  for (const [timing, ms] of timings) {
    console.log(
      `| ${vocab} | ${timing} | ${us(ms.ours)} | ${us(ms.mathExp)} | ${(ms.ours / ms.mathExp).toFixed(2)} |` +
        (theirs ? ` ${us(ms.theirs)} | ${(ms.ours / ms.theirs).toFixed(2)} |` : ""),
    );
  }
  if (sink < 0) console.log(sink); // keep the results alive
}
