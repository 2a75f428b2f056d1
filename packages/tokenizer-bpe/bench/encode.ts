/**
 * Encode speed on the Brown corpus (tags stripped, ~6 MB): this package against gpt-tokenizer,
 * js-tiktoken and tiktoken (wasm), same text, same encoding, same run; every peer's output is
 * checked id for id against ours before it is timed. Also: load time and heap for each
 * encoding, and training to 4,096 tokens.
 *
 * Each encoder gets one untimed warm-up pass (all four keep a cache of encoded pieces), then
 * the best of ROUNDS timed passes is reported. Run: `pnpm bench` (builds, then runs with
 * --expose-gc so heap figures are after collection).
 */
import { getEncoding } from "js-tiktoken";
import { get_encoding } from "tiktoken";
import { fromTiktoken, trainBpe, type JsTiktokenRanks } from "../src";
import { loadBrownText } from "../test/helpers/brown";

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const gc = (globalThis as { gc?: () => void }).gc;

function heapMB(): number {
  gc?.();
  return process.memoryUsage().heapUsed / 1e6;
}

function sameIds(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function time(fn: () => ArrayLike<number>): { ms: number; ids: ArrayLike<number> } {
  let ids = fn(); // warm-up
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    ids = fn();
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, ids };
}

const text = loadBrownText();
const megabytes = new TextEncoder().encode(text).length / 1e6;
console.log(`Brown corpus: ${megabytes.toFixed(2)} MB, node ${process.version}, best of ${ROUNDS} after one warm-up\n`);

for (const name of ["cl100k_base", "o200k_base"] as const) {
  const ranks = ((await import(`js-tiktoken/ranks/${name}`)) as { default: JsTiktokenRanks }).default;
  const before = heapMB();
  const t0 = performance.now();
  const ours = fromTiktoken({ ranks, encoding: name });
  const loadMs = performance.now() - t0;
  const loadHeap = heapMB() - before;

  const gptTokenizer = (await import(`gpt-tokenizer/encoding/${name}`)) as { encode: (t: string) => number[] };
  const js = getEncoding(name);
  const wasm = get_encoding(name);

  const results: { label: string; ms: number; tokens: number; same: boolean }[] = [];
  const mine = time(() => ours.encode(text));
  results.push({ label: "@zero-llm/tokenizer-bpe", ms: mine.ms, tokens: mine.ids.length, same: true });
  for (const [label, fn] of [
    ["gpt-tokenizer", () => gptTokenizer.encode(text)],
    ["tiktoken (wasm)", () => wasm.encode(text, [], [])],
    ["js-tiktoken", () => js.encode(text, [], [])],
  ] as const) {
    const r = time(fn);
    results.push({ label, ms: r.ms, tokens: r.ids.length, same: sameIds(r.ids, mine.ids) });
  }
  wasm.free();

  console.log(`${name}: load ${loadMs.toFixed(0)} ms, heap +${loadHeap.toFixed(1)} MB`);
  const fastestPeer = Math.min(...results.slice(1).map((r) => r.ms));
  for (const r of results) {
    const mbs = megabytes / (r.ms / 1000);
    const tps = r.tokens / (r.ms / 1000);
    console.log(`  ${r.label.padEnd(26)} ${mbs.toFixed(1).padStart(6)} MB/s ${(tps / 1e6).toFixed(2).padStart(6)} M tokens/s  ${r.same ? "same ids" : "DIFFERENT ids"}`);
  }
  console.log(`  ratio to the fastest peer: ${(fastestPeer / mine.ms).toFixed(2)}x\n`);
}

// Cold start: a fresh tokenizer (empty piece cache) on the whole corpus, once.
{
  const ranks = ((await import("js-tiktoken/ranks/cl100k_base"))).default;
  const fresh = fromTiktoken({ ranks, encoding: "cl100k_base" });
  const t0 = performance.now();
  fresh.encode(text);
  const ms = performance.now() - t0;
  console.log(`cl100k_base cold (empty cache, first pass): ${(megabytes / (ms / 1000)).toFixed(1)} MB/s\n`);
}

{
  const t0 = performance.now();
  const tok = trainBpe(text, { vocabSize: 4096, pattern: "cl100k", specialTokens: ["<|endoftext|>"] });
  const ms = performance.now() - t0;
  const ids = tok.encode(text);
  console.log(`train to 4,096 tokens on Brown (cl100k pattern): ${(ms / 1000).toFixed(1)} s; ${(new TextEncoder().encode(text).length / ids.length).toFixed(2)} bytes/token`);
}
