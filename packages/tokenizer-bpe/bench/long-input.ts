/**
 * Long pre-tokenizer pieces (issue 12 #3): one 50 MB run of a letter through cl100k_base, and
 * 50 MB of spaces, of a digit (pieces of three under cl100k's pattern) and of random letters (one
 * piece, the most tokens and pair lookups a run makes), beside 6 MB of prose (the Brown corpus);
 * MB/s, CPU time and the process's peak resident memory (mostly the inputs: what a user of
 * `zllm tokenize` sees is measured with /usr/bin/time, README "Long inputs"). The JS peers are quadratic (or worse) on such runs, so they
 * are timed on runs they finish, in the same run: gpt-tokenizer on 30 KB, js-tiktoken on 2 KB,
 * ours on the same inputs. Then SentencePiece (llama2.c's `tokenizer.bin`, when the shared
 * fixtures are there): 50 MB of random letters and the Brown corpus through `encodeChunks`, and
 * on 1 MB of random letters the encoder against its own plain queue over the whole text (one
 * heap of every candidate pair, llama.cpp's loop), same run. Run: `pnpm bench` (after bench/encode.ts), or
 * `node --expose-gc dist/bench/long-input.js`.
 */
import { encode as gptTokenizerEncode } from "gpt-tokenizer/encoding/cl100k_base";
import { getEncoding } from "js-tiktoken";
import { existsSync, readFileSync } from "node:fs";
import { fromLlama2cTokenizer, fromTiktoken } from "../src";
import { loadBrownText } from "../test/helpers/brown";
import { LLAMA2C_TOKENIZER } from "../test/helpers/fixtures";

const ranks = ((await import("js-tiktoken/ranks/cl100k_base"))).default;
const tok = fromTiktoken({ ranks, encoding: "cl100k_base" });
const js = getEncoding("cl100k_base");

function mbPerSecond(text: string, encode: (t: string) => unknown): { mbs: number; seconds: number; cpu: number } {
  const megabytes = Buffer.byteLength(text) / 1e6;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  encode(text);
  const seconds = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu0);
  return { mbs: megabytes / seconds, seconds, cpu: (used.user + used.system) / 1e6 };
}

function randomLetters(n: number): string {
  let x = 12345;
  const bytes = new Uint8Array(n); // not an array of 50 M one-letter strings: that took 2 GB
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    bytes[i] = 97 + ((x >>> 16) % 26);
  }
  return new TextDecoder().decode(bytes);
}

console.log(`node ${process.version}; cl100k_base; wall time (CPU time of this process in brackets: the machine is shared)\n`);
const brown = loadBrownText();
tok.encode(brown.slice(0, 1_000_000)); // warm-up
const prose = mbPerSecond(brown, (t) => tok.encode(t));
console.log(`prose (Brown, ${(Buffer.byteLength(brown) / 1e6).toFixed(1)} MB):     ${prose.mbs.toFixed(1)} MB/s`);
for (const [label, text] of [
  ["50 MB of one letter", "a".repeat(50e6)],
  ["50 MB of spaces", " ".repeat(50e6)],
  ["50 MB of a digit", "7".repeat(50e6)],
  ["50 MB of random letters", randomLetters(50e6)],
] as const) {
  const r = mbPerSecond(text, (t) => tok.encode(t));
  console.log(`${label.padEnd(28)} ${r.mbs.toFixed(2)} MB/s, ${r.seconds.toFixed(1)} s (${r.cpu.toFixed(1)} s CPU)`);
}
console.log(`peak resident memory of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB\n`);

console.log("runs the peers finish (same text, same run):");
for (const [label, n, peers] of [
  ["30 KB of one letter", 30_000, ["gpt-tokenizer"]],
  ["2 KB of one letter", 2_000, ["gpt-tokenizer", "js-tiktoken"]],
] as const) {
  const text = "a".repeat(n);
  const ours = mbPerSecond(text, (t) => tok.encode(t));
  const line = [`  ${label}: ours ${ours.mbs.toFixed(2)} MB/s`];
  for (const peer of peers) {
    const r = mbPerSecond(text, peer === "gpt-tokenizer" ? gptTokenizerEncode : (t) => js.encode(t));
    line.push(`${peer} ${r.mbs.toFixed(3)} MB/s (ratio ${(ours.mbs / r.mbs).toFixed(0)}x)`);
  }
  console.log(line.join(", "));
}

if (existsSync(LLAMA2C_TOKENIZER)) {
  const spm = fromLlama2cTokenizer(readFileSync(LLAMA2C_TOKENIZER));
  const count = (t: string): number => {
    let n = 0;
    for (const ids of spm.encodeChunks(t)) n += ids.length;
    return n;
  };
  console.log("\nSentencePiece, llama2.c tokenizer.bin (encodeChunks):");
  count(brown.slice(0, 1_000_000)); // warm-up, and the pair tables
  const spmProse = mbPerSecond(brown, count);
  console.log(`  prose (Brown):             ${spmProse.mbs.toFixed(2)} MB/s (${spmProse.cpu.toFixed(1)} s CPU)`);
  const random = mbPerSecond(randomLetters(50e6), count);
  console.log(`  50 MB of random letters:   ${random.mbs.toFixed(2)} MB/s, ${random.seconds.toFixed(1)} s (${random.cpu.toFixed(1)} s CPU)`);
  const small = randomLetters(1e6);
  const plainQueue = (t: string): unknown => spm["mergeSymbols"](" " + t, 0, t.length + 1);
  const ours = mbPerSecond(small, count);
  const plain = mbPerSecond(small, plainQueue);
  console.log(`  1 MB of random letters: ours ${ours.mbs.toFixed(2)} MB/s, the plain queue ${plain.mbs.toFixed(2)} MB/s (ratio ${(ours.mbs / plain.mbs).toFixed(2)}x)`);
} else {
  console.log(`\nSentencePiece skipped: ${LLAMA2C_TOKENIZER} not found (shared fixtures)`);
}
