#!/usr/bin/env node
/**
 * Writes test/fixtures/llama-cpp-vectors.json: llama.cpp's expected ids for vocabularies whose
 * .gguf files are too large to ship (Llama 3 "llama-bpe", Qwen 2 "qwen2"), one id list per test
 * string. The strings themselves are not copied: they are the ones in
 * ../shared/fixtures/ggml-vocab/ggml-vocab-gpt-2.gguf.inp (llama.cpp uses the same .inp for
 * every vocabulary; this script checks that).
 *
 *   node scripts/llama-cpp-vectors.mjs <llama.cpp checkout or bare git dir> [../shared/fixtures]
 *
 * Source: llama.cpp's models/ggml-vocab-*.gguf.{inp,out} (MIT, the ggml authors).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const [source, fixtures = path.resolve(here, "../../../../shared/fixtures")] = process.argv.slice(2);
if (source === undefined) {
  console.error("usage: node scripts/llama-cpp-vectors.mjs <llama.cpp checkout or bare git dir> [shared fixtures dir]");
  process.exit(2);
}
const read = (file) =>
  existsSync(path.join(source, file)) ? readFileSync(path.join(source, file), "utf8") : execFileSync("git", ["-C", source, "show", `HEAD:${file}`], { encoding: "utf8" });

const sharedInp = readFileSync(path.join(fixtures, "ggml-vocab/ggml-vocab-gpt-2.gguf.inp"), "utf8");
const out = { source: "llama.cpp models/ggml-vocab-*.gguf.out (MIT); strings: ggml-vocab-gpt-2.gguf.inp", vectors: {} };
for (const name of ["llama-bpe", "qwen2"]) {
  const inp = read(`models/ggml-vocab-${name}.gguf.inp`);
  if (inp !== sharedInp) throw new Error(`models/ggml-vocab-${name}.gguf.inp: expected the same strings as the shared gpt-2 .inp, found different ones`);
  const lines = read(`models/ggml-vocab-${name}.gguf.out`).split("\n");
  const count = sharedInp.split("\n__ggml_vocab_test__\n").length - 1;
  out.vectors[name] = lines.slice(0, count).map((line) => (line.trim() === "" ? [] : line.trim().split(/\s+/).map(Number)));
}
const target = path.join(here, "../test/fixtures/llama-cpp-vectors.json");
writeFileSync(target + ".tmp", JSON.stringify(out) + "\n");
renameSync(target + ".tmp", target);
console.log(`wrote ${target}`);
