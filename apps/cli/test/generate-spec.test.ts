// zllm generate's speculative decoding (--draft-model, --draft-max, --draft-min, --draft-p-min,
// --lookup) and constrained decoding (--json-schema, --json-object, --grammar, --regex, --choice)
// on the embedded model: same tokens as plain greedy decoding, stats in --json and in the summary
// line, every refusal a usage error before any generation.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadBpeJson } from "@zero-llm/tokenizer-bpe";
import { writeGgufModel, loadModel } from "@zero-llm/transformer/node";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateCommand } from "../src/commands/generate";
import { splitChoices } from "../src/commands/constraint-flags";
import { DEFAULT_MODEL_PATH } from "../src/commands/model-io";
import { runCli } from "./helpers";

const present = existsSync(path.join(DEFAULT_MODEL_PATH, "model.safetensors"));
const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-spec-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const commands = [generateCommand];
const PROMPT = "The jury said that the jury said that the";

interface GenerateJson {
  prompt: number[];
  tokens: number[];
  text: string;
  stats: { draftTokens: number; acceptedDraftTokens: number; targetPasses: number; generatedTokens: number; stopReason: string };
  speculative?: { draft: string; draftMax: number; draftMin: number; pMin?: number; acceptance: number; tokensPerPass: number; targetStepMs: number; speedup: number };
  constraint?: string;
}

async function generateJson(args: string[]): Promise<GenerateJson> {
  const r = await runCli(["generate", "--backend", "js", "--json", ...args], commands);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as GenerateJson;
}

describe.skipIf(!present)("zllm generate: speculative decoding", () => {
  const sameVocab = path.join(dir, "default-with-its-tokenizer.gguf");
  const otherVocab = path.join(dir, "default-placeholder-vocab.gguf");
  beforeAll(async () => {
    const model = await loadModel(DEFAULT_MODEL_PATH);
    const tokenizer = loadBpeJson(readFileSync(path.join(DEFAULT_MODEL_PATH, "tokenizer.bpe.json"), "utf8"));
    await writeGgufModel(sameVocab, model, { tokenizer, tokenizerOptions: { eosTokenId: 2047, bosTokenId: 2047, addBosToken: true } });
    await writeGgufModel(otherVocab, model); // the same weights, a placeholder vocabulary of 2048 tokens
  }, 60_000);

  it("--lookup and --draft-model give plain greedy decoding's tokens; --json adds draft stats and a speculative summary", async () => {
    const plain = await generateJson(["--greedy", "--max-tokens", "48", PROMPT]);
    expect(plain.stats).toMatchObject({ draftTokens: 0, acceptedDraftTokens: 0, generatedTokens: 48, stopReason: "maxTokens" });
    expect(plain.speculative).toBeUndefined();
    const lookup = await generateJson(["--greedy", "--max-tokens", "48", "--lookup", "3", "--draft-max", "8", PROMPT]);
    expect(lookup.tokens).toEqual(plain.tokens);
    expect(lookup.stats.draftTokens).toBeGreaterThan(0);
    expect(lookup.stats.acceptedDraftTokens).toBeGreaterThan(0);
    expect(lookup.stats.targetPasses).toBeLessThan(48);
    expect(lookup.speculative).toMatchObject({ draft: "lookup 3", draftMax: 8, draftMin: 0 });
    expect(lookup.speculative?.acceptance).toBeCloseTo(lookup.stats.acceptedDraftTokens / lookup.stats.draftTokens, 12);
    expect(lookup.speculative?.tokensPerPass).toBeCloseTo(48 / lookup.stats.targetPasses, 12);
    expect(lookup.speculative?.targetStepMs).toBeGreaterThan(0);
    expect(lookup.speculative?.speedup).toBeGreaterThan(0);
    // the model as its own draft (a GGUF copy with the same tokenizer): every draft is accepted
    const self = await generateJson(["--greedy", "--max-tokens", "48", "--draft-model", sameVocab, "--draft-max", "5", "--draft-p-min", "0", PROMPT]);
    expect(self.tokens).toEqual(plain.tokens);
    expect(self.stats.acceptedDraftTokens).toBe(self.stats.draftTokens);
    expect(self.stats.targetPasses).toBe(8);
    expect(self.speculative).toMatchObject({ draft: `model ${sameVocab}`, draftMax: 5, pMin: 0, acceptance: 1 });
    const defaults = await generateJson(["--greedy", "--max-tokens", "48", "--draft-model", DEFAULT_MODEL_PATH, PROMPT]);
    expect(defaults.tokens).toEqual(plain.tokens);
    expect(defaults.speculative).toMatchObject({ draftMax: 16, draftMin: 0, pMin: 0.75 });
  }, 120_000);

  it("sampled: the same seed is reproducible and the summary line shows acceptance and speed-up", async () => {
    const args = ["generate", "--backend", "js", "--max-tokens", "32", "--temperature", "0.7", "--seed", "3", "--lookup", "2", PROMPT];
    const a = await runCli(args, commands), b = await runCli(args, commands);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stderr).toMatch(/ \| draft: lookup 2, \d+\/\d+ accepted \(\d+\.\d%\), \d+\.\d\d tokens per pass, speed-up ×\d+\.\d\d \(the model alone: \d+\.\d\d ms per token, measured after the run\)\n$/);
  }, 60_000);

  it("refusals before any generation: another vocabulary, two ways to draft, stray and inconsistent draft flags", async () => {
    const cases: [string[], RegExp][] = [
      [["--draft-model", otherVocab], /^zllm: --draft-model .*default-placeholder-vocab\.gguf: expected the model's vocabulary, found token 0 = .* in the model but .* in the draft's tokenizer \(VOCAB_MISMATCH\)\n/],
      [["--draft-model", DEFAULT_MODEL_PATH, "--lookup", "2"], /^zllm: expected one way to draft, found both --draft-model and --lookup\n/],
      [["--draft-max", "4"], /^zllm: --draft-max: expected with --draft-model or --lookup, found neither\n/],
      [["--lookup", "2", "--draft-min", "9", "--draft-max", "4"], /^zllm: --draft-min: expected at most --draft-max \(4\), found 9\n/],
      [["--lookup", "2", "--draft-p-min", "0.5"], /^zllm: --draft-p-min: expected with --draft-model \(a draft model's confidence\), found --lookup\n/],
      [["--lookup", "0"], /^zllm: --lookup must be an integer in \[1, 64\], found "0"\n/],
    ];
    for (const [flags, message] of cases) {
      const r = await runCli(["generate", "--backend", "js", "--greedy", "--max-tokens", "4", ...flags, PROMPT], commands);
      expect(r.code, flags.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(message);
    }
  }, 60_000);

  it("a draft with a different vocabulary size is refused naming both sizes", async () => {
    const small = path.join(dir, "small.gguf");
    const model = await loadModel(DEFAULT_MODEL_PATH);
    const { Model, Weights } = await import("@zero-llm/transformer");
    const config = { ...model.config, vocabSize: 2000 };
    const w = new Weights();
    for (const name of model.weights.names()) {
      const t = model.weights.get(name);
      w.set(name, name.includes("embed") || name.includes("lm_head") ? [2000, t.shape[1] ?? 0] : t.shape, name.includes("embed") || name.includes("lm_head") ? t.data.slice(0, 2000 * config.dim) : t.data);
    }
    await writeGgufModel(small, new Model(config, w));
    const r = await runCli(["generate", "--backend", "js", "--greedy", "--max-tokens", "4", "--draft-model", small, PROMPT], commands);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^zllm: --draft-model .*small\.gguf: expected the model's vocabulary, found 2000 token ids where the model has 2048 \(VOCAB_MISMATCH\)\n/);
  }, 60_000);
});

const ajv = new Ajv2020({ strict: false });
addFormats(ajv);

describe.skipIf(!present)("zllm generate: constrained decoding", () => {
  const schema = {
    type: "object",
    properties: { verdict: { enum: ["guilty", "not guilty"] }, votes: { type: "integer", minimum: 0, maximum: 12 }, foreman: { type: "string", maxLength: 16 } },
    required: ["verdict", "votes", "foreman"],
  };
  const schemaFile = path.join(dir, "verdict.json");
  const grammarFile = path.join(dir, "list.gbnf");
  beforeAll(() => {
    writeFileSync(schemaFile, JSON.stringify(schema));
    writeFileSync(grammarFile, 'root ::= "[" item ("," " "? item){0,3} "]"\nitem ::= [a-z]{1,8}\n');
  });

  it("every constraint flag: the output is valid and generation stops at the constraint (stop grammar)", async () => {
    const validate = ajv.compile(schema);
    for (let seed = 1; seed <= 4; seed++) {
      const out = await generateJson(["--json-schema", schemaFile, "--temperature", "1", "--seed", String(seed), "--max-tokens", "300", PROMPT]);
      expect(out.constraint).toBe(`--json-schema ${schemaFile}`);
      expect(["grammar", "eos"]).toContain(out.stats.stopReason);
      expect(validate(JSON.parse(out.text)), out.text).toBe(true);
    }
    const object = await generateJson(["--json-object", "--temperature", "0.8", "--seed", "5", "--max-tokens", "300", PROMPT]);
    if (object.stats.stopReason !== "maxTokens") expect(JSON.parse(object.text)).toBeTypeOf("object");
    const list = await generateJson(["--grammar", grammarFile, "--temperature", "1", "--seed", "6", "--max-tokens", "100", PROMPT]);
    expect(list.text).toMatch(/^\[[a-z]{1,8}(, ?[a-z]{1,8}){0,3}\]$/);
    expect(list.stats.stopReason).toBe("grammar");
    const date = await generateJson(["--regex", "\\d{4}-\\d{2}-\\d{2}", "--temperature", "1", "--seed", "7", PROMPT]);
    expect(date.text).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(date.stats.stopReason).toBe("grammar");
    const choice = await generateJson(["--choice", "guilty,not guilty,hung\\, no verdict", "--greedy", PROMPT]);
    expect(["guilty", "not guilty", "hung, no verdict"]).toContain(choice.text);
  }, 120_000);

  it("streams the constrained text and names the constraint in the summary line", async () => {
    const r = await runCli(["generate", "--backend", "js", "--choice", "yes,no", "--greedy", PROMPT], commands);
    expect(r.code).toBe(0);
    expect(["yes\n", "no\n"]).toContain(r.stdout);
    expect(r.stderr).toMatch(/stop: grammar \| sampling: greedy \| constraint: --choice "yes,no"\n$/);
  });

  it("constraint and speculative decoding together: exactly the plain constrained tokens", async () => {
    const plain = await generateJson(["--json-schema", schemaFile, "--greedy", "--max-tokens", "200", PROMPT]);
    for (const draft of [["--lookup", "2"], ["--draft-model", DEFAULT_MODEL_PATH, "--draft-p-min", "0"]]) {
      const run = await generateJson(["--json-schema", schemaFile, "--greedy", "--max-tokens", "200", ...draft, PROMPT]);
      expect(run.tokens, draft.join(" ")).toEqual(plain.tokens);
      expect(run.stats.stopReason).toBe(plain.stats.stopReason);
    }
  }, 120_000);

  it("refusals before any generation, naming the flag and the keyword", async () => {
    const write = (name: string, text: string): string => {
      const file = path.join(dir, name);
      writeFileSync(file, text);
      return file;
    };
    const cases: [string[], RegExp][] = [
      [["--json-schema", write("not.json", '{"not": {"type": "string"}}')], /^zllm: --json-schema .*not\.json: JSON Schema at the root: keyword "not" is not supported .*\(CONSTRAINT_UNSUPPORTED\)\n/],
      [["--json-schema", write("email.json", '{"type": "string", "format": "email"}')], /keyword "format" is not supported \(format "email";.*\(CONSTRAINT_UNSUPPORTED\)\n/],
      [["--json-schema", write("empty.json", '{"type": "array", "minItems": 3, "maxItems": 2}')], /^zllm: --json-schema .*empty\.json: JSON Schema: no JSON value satisfies it: at \/minItems, minItems 3 cannot be met: maxItems is 2 \(keyword "minItems"\) \(CONSTRAINT_UNSATISFIABLE\)\n/],
      [["--json-schema", write("bad.json", "{not json")], /^zllm: --json-schema .*bad\.json: expected JSON, found /],
      [["--json-schema", write("list.json", "[1]")], /^zllm: --json-schema .*list\.json: expected a JSON Schema \(an object or a boolean\), found an array\n/],
      [["--json-schema", path.join(dir, "missing.json")], /^zllm: --json-schema: expected a JSON Schema file, found ".*missing\.json" \(no such file\)\n/],
      [["--grammar", write("g.gbnf", "root ::= item\n")], /^zllm: --grammar .*g\.gbnf: grammar line 1, column 10: rule "item" is used but never defined .*\(CONSTRAINT_UNDEFINED_RULE\)\n/],
      [["--regex", "a(b"], /^zllm: --regex "a\(b": regex "a\(b": expected an ECMAScript regular expression, found a syntax error .*\(CONSTRAINT_REGEX_SYNTAX\)\n/],
      [["--regex", "(?=a)b"], /lookahead .* is not supported .*\(CONSTRAINT_UNSUPPORTED\)\n/],
      [["--choice", "a,,b"], /^zllm: --choice: expected non-empty comma-separated strings, found an empty choice at position 2 in "a,,b"\n/],
      [["--json-object", "--regex", "a+"], /^zllm: expected at most one constraint flag, found --json-object and --regex\n/],
    ];
    for (const [flags, message] of cases) {
      const r = await runCli(["generate", "--backend", "js", "--greedy", "--max-tokens", "4", ...flags, PROMPT], commands);
      expect(r.code, flags.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(message);
    }
  }, 60_000);

  it("--help documents every new flag", async () => {
    const r = await runCli(["generate", "--help"], commands);
    for (const flag of ["--draft-model", "--draft-max", "--draft-min", "--draft-p-min", "--lookup", "--json-schema", "--json-object", "--grammar", "--regex", "--choice"]) {
      expect(r.stdout).toContain(flag);
    }
  });
});

describe("--choice splitting", () => {
  it("commas separate; \\, and \\\\ escape", () => {
    expect(splitChoices("a,b")).toEqual(["a", "b"]);
    expect(splitChoices("a\\,b,c")).toEqual(["a,b", "c"]);
    expect(splitChoices("a\\\\,b")).toEqual(["a\\", "b"]);
    expect(splitChoices("x\\y")).toEqual(["x\\y"]);
    expect(() => splitChoices(",a")).toThrow(/empty choice at position 1/);
  });
});
