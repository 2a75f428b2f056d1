import type { Llama, LlamaModel } from "node-llama-cpp";
import { afterAll, describe, expect, it } from "vitest";
import { readVocabTest } from "./helpers/fixtures";
import { mulberry32, randomText } from "./helpers/fuzz";
import { VOCAB_FILES, hasVocab, loadVocab, vocabPath } from "./helpers/vocab-files";
import { startLlamaCpp } from "../../../tools/test-helpers/llama-cpp";

/**
 * llama.cpp itself as the reference: node-llama-cpp's CPU prebuilt (a devDependency) loads each
 * vocabulary file vocab-only and tokenizes (no special tokens, no BOS); we must give the same
 * ids on llama.cpp's test strings and on 300 generated texts per file. This is where baichuan and
 * gpt-neox, which have no .out vectors, are checked. Skipped, with the reason in the title, when
 * the prebuilt binary does not load here (or with ZLLM_LLAMA_CPP=0).
 *
 * Where llama.cpp departs from the model's published tokenizer (tokenizer.json), we follow the
 * published one, which is what llama.cpp's own vectors are made from; for those files the
 * generated texts lose the characters that reach the departures:
 * - deepseek-llm: llama.cpp replaces each non-ASCII whitespace character by U+000B before its
 *   regex runs, so U+3000 stops being in deepseek's punctuation class and U+2000..U+3000 spaces
 *   stop being in its CJK range (U+0800..U+4E00). Non-ASCII whitespace is taken out.
 * - bert-bge: llama.cpp's WordPiece keeps combining marks and unassigned code points, which
 *   Hugging Face's BERT normaliser drops (it strips accents for uncased models, and removes
 *   category C); the generated texts are cut down to ASCII.
 */
const DEPARTURES: Record<string, RegExp> = {
  "deepseek-llm": /(?![\p{ASCII}])\p{White_Space}/gu,
  "bert-bge": /\P{ASCII}/gu,
};

const started = await startLlamaCpp(async (): Promise<Llama> => {
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  return getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.disabled });
});
const llama = "llama" in started ? started.llama : undefined;
const files = VOCAB_FILES.filter((f) => hasVocab(f.name));
const title = llama === undefined ? `llama.cpp checks skipped: ${"reason" in started ? started.reason : ""}` : `llama.cpp (node-llama-cpp 3.22.1) tokenizes each vocabulary file as we do`;

describe.skipIf(llama === undefined || files.length === 0)(title, () => {
  const models = new Map<string, LlamaModel>();
  afterAll(async () => {
    for (const m of models.values()) await m.dispose();
  });
  const texts = files.length > 0 ? readVocabTest(vocabPath("gpt-2")).map((c) => c.text) : [];
  const rand = mulberry32(5);
  const generated = Array.from({ length: 300 }, () => randomText(rand, 80));

  it.each(files.map((f) => f.name))("%s: llama.cpp's test strings and 300 generated texts", async (name) => {
    const model = await llama!.loadModel({ modelPath: vocabPath(name), vocabOnly: true });
    models.set(name, model);
    const tok = loadVocab(name);
    const departure = DEPARTURES[name];
    const compared = [...texts, ...(departure === undefined ? generated : generated.map((t) => t.replace(departure, "")))];
    for (const text of compared) {
      expect({ text, ids: tok.encode(text) }).toEqual({ text, ids: Array.from(model.tokenize(text), Number) });
    }
  }, 300_000);
});
