// Constrained decoding through generate(): the constraint's mask goes to the sampler's mask step
// and generation ends as soon as the constraint is complete (stop reason "grammar"). With the
// embedded model (models/default) and with random-weight models (GPT-2 and Llama over the same
// 2048-token vocabulary, whose output is noise), every finished output parses and validates —
// JSON Schema by ajv, an independent validator — over many seeds. Speculative decoding under a
// constraint gives plain constrained greedy decoding's very tokens.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PromptLookupDrafter, Sampler, compileConstraint, tokenVocabulary, type Constraint, type ConstraintSpec } from "@zero-llm/sampling";
import { createWasmBackend, type WasmBackend } from "@zero-llm/tensor";
import { loadBpeJson, type BpeTokenizer } from "@zero-llm/tokenizer-bpe";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Model, generate, randomWeights, type Config } from "../src/index";
import { loadModel } from "../src/node/index";

const dir = fileURLToPath(new URL("../../../models/default", import.meta.url));
const present = existsSync(path.join(dir, "model.safetensors"));
const EOS = 2047; // <|endoftext|>

const ajv = new Ajv2020({ strict: false });
addFormats(ajv);

const PERSON = {
  type: "object",
  properties: {
    name: { type: "string", minLength: 1, maxLength: 12 },
    age: { type: "integer", minimum: 0, maximum: 120 },
    role: { enum: ["jury", "judge", "clerk", null] },
    born: { type: "string", format: "date" },
    tags: { type: "array", items: { type: "string", pattern: "^[a-z]{1,6}$" }, maxItems: 3 },
    score: { type: "number", exclusiveMinimum: -1, maximum: 1 },
  },
  required: ["name", "age", "tags"],
  additionalProperties: false,
};

interface Case {
  name: string;
  spec: ConstraintSpec;
  /** Throws unless a finished output is valid. */
  check: (text: string) => void;
}

const CASES: Case[] = [
  {
    name: "JSON Schema (object, bounds, enum, date, pattern, array)",
    spec: { type: "json", schema: PERSON },
    check: (text) => {
      const validate = ajv.compile(PERSON);
      if (!validate(JSON.parse(text))) throw new Error(`${text}: ${ajv.errorsText(validate.errors)}`);
    },
  },
  {
    name: "any JSON value",
    spec: { type: "json" },
    check: (text) => void JSON.parse(text),
  },
  {
    name: "GBNF (a bounded list of sums)",
    spec: { type: "gbnf", grammar: 'root ::= "[" sum ("," " "? sum){0,3} "]"\nsum ::= num (" "? [+-] " "? num){0,2}\nnum ::= [1-9] [0-9]{0,2} | "0"' },
    check: (text) => {
      if (!/^\[(?:[1-9][0-9]{0,2}|0)(?: ?[+-] ?(?:[1-9][0-9]{0,2}|0)){0,2}(?:, ?(?:[1-9][0-9]{0,2}|0)(?: ?[+-] ?(?:[1-9][0-9]{0,2}|0)){0,2}){0,3}\]$/.test(text)) throw new Error(`not the grammar: ${JSON.stringify(text)}`);
    },
  },
  {
    name: "regex (a dated log line)",
    spec: { type: "regex", pattern: "\\d{4}-\\d{2}-\\d{2} (INFO|WARN|ERROR) [a-z ]{1,20}\\." },
    check: (text) => {
      if (!/^\d{4}-\d{2}-\d{2} (INFO|WARN|ERROR) [a-z ]{1,20}\.$/.test(text)) throw new Error(`no match: ${JSON.stringify(text)}`);
    },
  },
  {
    name: "choice",
    spec: { type: "choice", choices: ["guilty", "not guilty", "no verdict"] },
    check: (text) => {
      if (!["guilty", "not guilty", "no verdict"].includes(text)) throw new Error(`not a choice: ${JSON.stringify(text)}`);
    },
  },
];

describe.skipIf(!present)("constrained generate(): every finished output is valid", () => {
  let wasm: WasmBackend;
  let tokenizer: BpeTokenizer;
  let models: [string, Model][];
  const constraints = new Map<string, Constraint>();
  beforeAll(async () => {
    wasm = await createWasmBackend({ threads: 1 });
    tokenizer = loadBpeJson(readFileSync(path.join(dir, "tokenizer.bpe.json"), "utf8"));
    const embedded = await loadModel(dir, { backend: wasm });
    const shape = { vocabSize: embedded.config.vocabSize, seqLen: 512, normEps: 1e-5, ropeTheta: 10000, hiddenDim: 128 } as const;
    const llama: Config = { ...shape, arch: "llama", dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, ropeStyle: "half", tiedEmbeddings: true };
    const gpt2: Config = { ...shape, arch: "gpt2", dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 4, ropeStyle: "interleaved", tiedEmbeddings: true };
    models = [
      ["the embedded model", embedded],
      ["a random-weight llama", new Model(llama, randomWeights(llama, { seed: 5, backend: wasm }), { backend: wasm })],
      ["a random-weight gpt2", new Model(gpt2, randomWeights(gpt2, { seed: 6, backend: wasm }), { backend: wasm })],
    ];
    const vocab = tokenVocabulary(tokenizer, { eos: [EOS] });
    for (const c of CASES) constraints.set(c.name, compileConstraint(c.spec, vocab));
  }, 120_000);
  afterAll(async () => { await wasm?.dispose(); });

  const SEEDS = 20;
  for (const c of CASES) {
    it(c.name, () => {
      const constraint = constraints.get(c.name);
      if (constraint === undefined) throw new Error("not compiled");
      for (const [label, model] of models) {
        let finished = 0;
        for (let seed = 0; seed < SEEDS; seed++) {
          const prompt = [EOS, ...tokenizer.encode(seed % 2 === 0 ? "The jury said" : "{\"name\": ")];
          const sampler = new Sampler({ temperature: seed % 3 === 0 ? 1.5 : 1, topK: seed % 4 === 1 ? 40 : 0, seed });
          const run = generate(model, prompt, { sampler, constraint, maxTokens: 320, eos: [EOS] });
          const text = tokenizer.decode([...run]);
          if (run.stats.stopReason === "maxTokens") continue;
          expect(["grammar", "eos"], `${label}, seed ${seed}`).toContain(run.stats.stopReason);
          expect(() => c.check(text), `${label}, seed ${seed}: ${JSON.stringify(text)}`).not.toThrow();
          finished++;
        }
        // the bounded constraints end within the budget; JSON without a schema may wander
        expect(finished, `${label}: finished outputs`).toBeGreaterThanOrEqual(c.spec.type === "json" && c.spec.schema === undefined ? 1 : SEEDS - 2);
      }
    }, 120_000);
  }

  it("greedy speculative decoding under a constraint gives plain constrained greedy decoding's tokens", () => {
    const [, embedded] = models[0];
    const [, randomLlama] = models[1];
    for (const c of CASES.slice(0, 4)) {
      const constraint = constraints.get(c.name);
      if (constraint === undefined) throw new Error("not compiled");
      const prompt = [EOS, ...tokenizer.encode("The jury said")];
      const sampler = (): Sampler => new Sampler({ temperature: 0, repetitionPenalty: 1.1 });
      const plain = generate(embedded, prompt, { sampler: sampler(), constraint, maxTokens: 120, eos: [EOS] });
      const want = [...plain];
      for (const [label, draft] of [["itself", embedded], ["a random-weight model", randomLlama], ["prompt lookup", new PromptLookupDrafter(2)]] as const) {
        const run = generate(embedded, prompt, { sampler: sampler(), constraint, maxTokens: 120, eos: [EOS], draft, draftMax: 6 });
        expect([...run], `${c.name}, draft ${label}`).toEqual(want);
        expect(run.stats.stopReason).toBe(plain.stats.stopReason);
        if (label === "itself") expect(run.stats.acceptedDraftTokens).toBe(run.stats.draftTokens);
      }
      if (plain.stats.stopReason !== "maxTokens") c.check(tokenizer.decode(want));
    }
  }, 120_000);

  it("a constraint for another vocabulary is refused before generation (VOCAB_MISMATCH)", () => {
    const small = compileConstraint({ type: "regex", pattern: "a+" }, { tokens: [new Uint8Array([97])], eos: [] });
    expect(() => generate(models[0][1], [1], { constraint: small })).toThrow(
      expect.objectContaining({ code: "VOCAB_MISMATCH", message: "constraint: expected one compiled for the model's vocabulary of 2048 tokens, found one for 1" }),
    );
  });
});
