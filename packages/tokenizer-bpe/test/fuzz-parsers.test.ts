import { readFileSync } from "node:fs";
import { GgufError, GgufFile, serializeGguf, type GgufValue } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import {
  TokenizerError, exportTokenizerJson, fromGgufMetadata, fromLlama2cTokenizer, fromTiktoken, fromTokenizerJson, loadVocabulary, minimalLlamaVocabulary,
  parseJsTiktokenRanks, saveBpeJson, toGgufMetadata, trainBpe, type Tokenizer,
} from "../src";
import { LLAMA2C_TOKENIZER, hasFixture } from "./helpers/fixtures";
import { mulberry32 } from "./helpers/fuzz";

/**
 * Issue 12: a fuzz test per tokenizer file parser (tokenizer.json and our JSON, .tiktoken files,
 * llama2.c tokenizer.bin, GGUF tokenizer metadata). Seeded mutations of a valid file: bit flips,
 * truncations, inserted and deleted bytes, inflated counts, lengths and ids, values of the wrong
 * type. Every outcome must be a tokenizer (which then encodes and decodes a sample, or refuses it
 * with a TokenizerError) or a typed error (TokenizerError; GgufError from the container reader);
 * never another exception, a hang (each parser's cases run in seconds) or unbounded memory
 * (ids and ranks are capped at 2^21, lengths and counts are checked against the bytes present).
 */
const CASES = 2000;
const SAMPLE = "Hello, world! It's 2026: naïve café 1234567 😀\n\t  end";

type Outcome = "loaded" | "refused";

function expectTyped(error: unknown, label: string): void {
  if (error instanceof TokenizerError || error instanceof GgufError) return;
  throw new Error(`${label}: expected a TokenizerError or GgufError, found ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`, { cause: error });
}

/** Runs one case: `load` gives a tokenizer or throws; a tokenizer must encode / decode the sample or refuse typed. */
function outcome(load: () => Tokenizer, label: string, encode = true): Outcome {
  let tok: Tokenizer;
  try {
    tok = load();
  } catch (error) {
    expectTyped(error, label);
    return "refused";
  }
  if (encode) {
    try {
      tok.decode(tok.encode(SAMPLE));
    } catch (error) {
      expectTyped(error, `${label} (encoding)`);
    }
  }
  return "loaded";
}

/** Byte-level mutations: flips, truncation, insertion, deletion, and a random aligned word made huge. */
function mutateBytes(rand: () => number, valid: Uint8Array): Uint8Array {
  const bytes = valid.slice();
  const pick = Math.floor(rand() * 6);
  const at = Math.floor(rand() * bytes.length);
  switch (pick) {
    case 0: // flip 1..8 bits
      for (let k = 1 + Math.floor(rand() * 8); k > 0; k--) {
        const p = Math.floor(rand() * bytes.length);
        bytes[p] = bytes[p] ^ (1 << Math.floor(rand() * 8));
      }
      return bytes;
    case 1:
      return bytes.subarray(0, at);
    case 2: {
      const out = new Uint8Array(bytes.length + 1);
      out.set(bytes.subarray(0, at));
      out[at] = Math.floor(rand() * 256);
      out.set(bytes.subarray(at), at + 1);
      return out;
    }
    case 3: {
      const out = new Uint8Array(bytes.length - 1);
      out.set(bytes.subarray(0, at));
      out.set(bytes.subarray(at + 1), at);
      return out;
    }
    default: {
      // An inflated count or length: a 4-byte aligned word set to a huge value.
      const p = at & ~3;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (p + 4 <= bytes.length) view.setUint32(p, [0xffffffff, 0x7fffffff, 0x10000000, 1 << 21][Math.floor(rand() * 4)], true);
      return bytes;
    }
  }
}

/** Text mutations for JSON and .tiktoken files: byte-level ones, and numbers made huge, negative or fractional. */
function mutateText(rand: () => number, valid: string): Uint8Array {
  if (rand() < 0.5) return mutateBytes(rand, new TextEncoder().encode(valid));
  const numbers = [...valid.matchAll(/\d+/g)];
  if (numbers.length === 0) return new TextEncoder().encode(valid);
  const m = numbers[Math.floor(rand() * numbers.length)];
  const replacement = ["4294967295", "99999999999999999999", "-1", "1.5", "2097152", "1e300", "NaN", '"x"', "null", "[]", "{}"][Math.floor(rand() * 11)];
  return new TextEncoder().encode(valid.slice(0, m.index) + replacement + valid.slice(m.index + m[0].length));
}

function run(label: string, cases: number, one: (rand: () => number) => Outcome): Record<Outcome, number> {
  const rand = mulberry32(1234);
  const counts: Record<Outcome, number> = { loaded: 0, refused: 0 };
  for (let k = 0; k < cases; k++) counts[one(rand)]++;
  // Both outcomes happen: the mutations reach past the first check and the parsers refuse what they must.
  expect(counts.loaded, `${label}: some mutated files still load`).toBeGreaterThan(0);
  expect(counts.refused, `${label}: some mutated files are refused`).toBeGreaterThan(0);
  return counts;
}

const trained = trainBpe("the quick brown fox jumps over the lazy dog; it's 1234 o'clock. ".repeat(30), {
  vocabSize: 300,
  specialTokens: ["<|endoftext|>"],
  eosToken: "<|endoftext|>",
});

describe("fuzzed tokenizer files: a load or a typed error, never anything else", () => {
  it(`tokenizer.json: ${CASES} mutations`, () => {
    const valid = exportTokenizerJson(trained);
    run("tokenizer.json", CASES, (rand) => {
      const bytes = mutateText(rand, valid);
      // A mutated Split regex could be any regex; encode only when the pattern survived intact.
      const intact = new TextDecoder().decode(bytes).includes(JSON.stringify(trained.patterns[0]));
      return outcome(() => fromTokenizerJson(new TextDecoder().decode(bytes)), "tokenizer.json", intact);
    });
  });

  it(`our JSON (zero-llm-bpe) through loadVocabulary: ${CASES} mutations`, () => {
    const valid = saveBpeJson(trained);
    run("zero-llm-bpe", CASES, (rand) => {
      const bytes = mutateText(rand, valid);
      const intact = new TextDecoder().decode(bytes).includes(JSON.stringify(trained.patterns[0]));
      return outcome(() => loadVocabulary(bytes), "zero-llm-bpe", intact);
    });
  });

  it(`.tiktoken rank files: ${CASES} mutations of a small rank file, 100 of r50k's through loadVocabulary`, async () => {
    const ranks = ((await import("js-tiktoken/ranks/gpt2")) as { default: { bpe_ranks: string } }).default;
    const tokens = parseJsTiktokenRanks(ranks.bpe_ranks);
    const file = (n: number): string => tokens.slice(0, n).map((t, rank) => `${Buffer.from(t).toString("base64")} ${rank}`).join("\n") + "\n";
    const small = file(600);
    run(".tiktoken (600 ranks)", CASES, (rand) => outcome(() => fromTiktoken({ ranks: new TextDecoder().decode(mutateText(rand, small)), pattern: "gpt2" }), ".tiktoken"));
    // The whole r50k file, recognised by its size: mutate a 20 KB window, keep the rest.
    const whole = file(tokens.length);
    run(".tiktoken (r50k)", 100, (rand) => {
      const start = Math.floor(rand() * (whole.length - 20_000));
      const mutated = new TextDecoder().decode(mutateText(rand, whole.slice(start, start + 20_000)));
      return outcome(() => loadVocabulary(new TextEncoder().encode(whole.slice(0, start) + mutated + whole.slice(start + 20_000))), ".tiktoken");
    });
  }, 300_000);

  it.skipIf(!hasFixture(LLAMA2C_TOKENIZER))(`llama2.c tokenizer.bin: ${CASES} mutations of its first 600 records (a valid file too)`, () => {
    const file = new Uint8Array(readFileSync(LLAMA2C_TOKENIZER));
    const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
    let end = 4;
    for (let k = 0; k < 600; k++) end += 8 + view.getInt32(end + 4, true);
    const valid = file.slice(0, end);
    expect(fromLlama2cTokenizer(valid).vocabSize).toBe(600);
    run("tokenizer.bin", CASES, (rand) => outcome(() => fromLlama2cTokenizer(mutateBytes(rand, valid)), "tokenizer.bin"));
  });

  const ggufVocabularies: [string, Array<readonly [string, GgufValue]>][] = [
    ["gpt2 (a trained BPE)", toGgufMetadata(trained)],
    ["llama (SentencePiece)", minimalLlamaVocabulary(300)],
  ];

  it.each(ggufVocabularies)(`GGUF file bytes, %s: ${CASES} mutations through @zero-llm/tensor's reader and fromGgufMetadata`, (label, metadata) => {
    const valid = serializeGguf({ metadata });
    run(`GGUF ${label}`, CASES, (rand) =>
      outcome(() => {
        const file = GgufFile.parse(mutateBytes(rand, valid));
        return fromGgufMetadata(new Map([...file.metadata.keys()].map((key) => [key, file.get(key)])));
      }, `GGUF ${label}`),
    );
  });

  it.each(ggufVocabularies)(`GGUF metadata values, %s: ${CASES} values of the wrong type, length or range`, (label, metadata) => {
    const plain = new Map<string, unknown>(metadata.map(([key, v]) => [key, v.value]));
    const keys = [...plain.keys(), "tokenizer.ggml.pre", "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.add_space_prefix", "tokenizer.ggml.cls_token_id"];
    const wrongValues = (rand: () => number, value: unknown): unknown[] => {
      const list = Array.isArray(value) || ArrayBuffer.isView(value) ? Array.from(value as ArrayLike<unknown>) : [];
      const i = Math.floor(rand() * Math.max(1, list.length));
      const replaced = list.slice();
      replaced[i] = [4294967295, -1, 1.5, "x", null, 2 ** 40, ""][Math.floor(rand() * 7)];
      return [
        undefined, null, 4294967295, -1, 2n ** 63n, "", "bert", "llama", "gpt2", "falcon", "no-such-pre", true, [], {}, new Float32Array(3), new Int32Array(list.length).fill(99),
        list.slice(0, Math.floor(list.length / 2)), [...list, ...list], replaced, new BigInt64Array(2),
      ];
    };
    run(`GGUF metadata ${label}`, CASES, (rand) => {
      const meta = new Map(plain);
      const key = keys[Math.floor(rand() * keys.length)];
      const choices = wrongValues(rand, meta.get(key));
      const value = choices[Math.floor(rand() * choices.length)];
      if (value === undefined) meta.delete(key);
      else meta.set(key, value);
      return outcome(() => fromGgufMetadata(meta), `GGUF metadata ${label} ${key}`);
    });
  });
});
