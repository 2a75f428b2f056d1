// The chain at its most exp-bound: temperature 0.8 with nothing truncated (OpenAI's default
// distribution), so every token's draw needs the exponential of every logit. On the embedded
// model's 2,048-token vocabulary (what a server streaming that model pays per token) and on
// 32,000. Peers in the same run, interleaved (tools/bench-helpers/race.mjs):
// - the same softmax and inverse-CDF draw written with Math.exp (not portable across engines:
//   what the portable exp costs or saves);
// - with --compare, the Sampler of another checkout (its packages/sampling/dist/index.js): a
//   before/after on one machine.
//
//   cd packages/sampling && npx tsup && node bench/softmax.mjs [--compare OTHER/packages/sampling/dist/index.js]
import { loadavg } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Rng } from "@zero-llm/tensor";
import { bestMsPerCall } from "../../../tools/bench-helpers/race.mjs";
import { Sampler } from "../dist/index.js";

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

console.log(`temperature 0.8, nothing truncated; µs per token, best sample; load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
console.log(`| vocabulary | ours | Math.exp softmax + draw | ours ÷ Math.exp |${other ? " compared checkout | ours ÷ compared |" : ""}`);
console.log(`|---:|---:|---:|---:|${other ? "---:|---:|" : ""}`);
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
  const ms = bestMsPerCall(contestants, Number(values.budget));
  const us = (x) => (x * 1000).toFixed(1);
  console.log(
    `| ${vocab} | ${us(ms.ours)} | ${us(ms.mathExp)} | ${(ms.ours / ms.mathExp).toFixed(2)} |` +
      (theirs ? ` ${us(ms.theirs)} | ${(ms.ours / ms.theirs).toFixed(2)} |` : ""),
  );
  if (sink < 0) console.log(sink); // keep the results alive
}
