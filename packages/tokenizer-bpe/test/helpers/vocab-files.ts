import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { GgufFile } from "@zero-llm/tensor";
import { fromGgufMetadata, type Tokenizer } from "../../src";
import { GGML_VOCAB } from "./fixtures";

/**
 * llama.cpp's twelve vocabulary-only GGUF files in ../shared/fixtures/ggml-vocab, read with
 * @zero-llm/tensor's GGUF reader (the one home of the container format; this package only
 * interprets the tokenizer.ggml.* keys). `vectors` says whether llama.cpp ships .inp/.out test
 * vectors for the file (baichuan and gpt-neox have none: their expected ids come from llama.cpp
 * itself, see llama-cpp.test.ts).
 */
export interface VocabFile {
  name: string;
  model: "gpt2" | "llama" | "bert";
  /** tokenizer.ggml.pre as stored, or undefined when the file has none. */
  pre: string | undefined;
  vectors: boolean;
}

export const VOCAB_FILES: readonly VocabFile[] = [
  { name: "baichuan", model: "llama", pre: undefined, vectors: false },
  { name: "bert-bge", model: "bert", pre: "bert-bge", vectors: true },
  { name: "deepseek-coder", model: "gpt2", pre: "deepseek-coder", vectors: true },
  { name: "deepseek-llm", model: "gpt2", pre: "deepseek-llm", vectors: true },
  { name: "falcon", model: "gpt2", pre: "falcon", vectors: true },
  { name: "gpt-2", model: "gpt2", pre: "gpt-2", vectors: true },
  { name: "gpt-neox", model: "gpt2", pre: undefined, vectors: false },
  { name: "llama-spm", model: "llama", pre: "default", vectors: true },
  { name: "mpt", model: "gpt2", pre: "mpt", vectors: true },
  { name: "phi-3", model: "llama", pre: "default", vectors: true },
  { name: "refact", model: "gpt2", pre: "refact", vectors: true },
  { name: "starcoder", model: "gpt2", pre: "starcoder", vectors: true },
];

export function vocabPath(name: string): string {
  return path.join(GGML_VOCAB, `ggml-vocab-${name}.gguf`);
}

export function hasVocab(name: string): boolean {
  return existsSync(vocabPath(name));
}

/** The file's metadata as plain values (strings, string[], typed arrays, numbers), as fromGgufMetadata takes it. */
export function readVocabMetadata(name: string): Map<string, unknown> {
  return ggufMetadata(new Uint8Array(readFileSync(vocabPath(name))));
}

export function ggufMetadata(bytes: Uint8Array): Map<string, unknown> {
  const file = GgufFile.parse(bytes);
  return new Map([...file.metadata.keys()].map((key) => [key, file.get(key)]));
}

const loaded = new Map<string, Tokenizer>();

/** The tokenizer of one vocabulary file, built once per test file. */
export function loadVocab(name: string): Tokenizer {
  let tok = loaded.get(name);
  if (tok === undefined) {
    tok = fromGgufMetadata(readVocabMetadata(name));
    loaded.set(name, tok);
  }
  return tok;
}
