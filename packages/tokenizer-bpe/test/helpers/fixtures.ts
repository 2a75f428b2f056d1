import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Shared test data outside the repository (../shared/fixtures); never copied in. */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
export const FIXTURES = path.resolve(repoRoot, "../shared/fixtures");
export const GGML_VOCAB = path.join(FIXTURES, "ggml-vocab");
export const LLAMA2C_TOKENIZER = path.join(FIXTURES, "llama2c/llama2-tokenizer.bin");
export const MISSING_FIXTURES = `shared fixtures not found at ${FIXTURES} (CI provides them)`;

export function hasFixture(file: string): boolean {
  return existsSync(file);
}

/** llama.cpp test vectors: inputs separated by "\n__ggml_vocab_test__\n", one line of ids per input. */
export function readVocabTest(ggufPath: string): { text: string; ids: number[] }[] {
  const inputs = readFileSync(ggufPath + ".inp", "utf8").split("\n__ggml_vocab_test__\n");
  if (inputs[inputs.length - 1] === "") inputs.pop();
  const lines = readFileSync(ggufPath + ".out", "utf8").split("\n");
  return inputs.map((text, k) => ({ text, ids: lines[k].trim() === "" ? [] : lines[k].trim().split(/\s+/).map(Number) }));
}
