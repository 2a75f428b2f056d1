import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import type { ConstraintError} from "../src/constrain";
import { Constraint, jsonSchemaGrammar, type JsonSchema } from "../src/constrain";
import { checkWalk, smallVocabulary } from "./helpers/constrain";
import { SCHEMAS } from "./helpers/schemas";

const ajv = new Ajv2020({ strict: false });
addFormats(ajv);

describe("JSON Schema: masks against brute force, outputs validated by ajv", { timeout: 60_000 }, () => {
  for (const { name, schema, pieces } of SCHEMAS) {
    it(name, () => {
      const grammar = jsonSchemaGrammar(schema);
      const vocab = smallVocabulary(pieces);
      const constraint = new Constraint(grammar, vocab);
      const validate = ajv.compile(schema as object);
      let finished = 0;
      for (let seed = 1; seed <= 12; seed++) {
        const walk = checkWalk(grammar, constraint, vocab, seed, 60, 0.5);
        if (!walk.complete) continue;
        finished++;
        const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(walk.text); // a BOM must not be stripped: it would make the output invalid
        const value: unknown = JSON.parse(text);
        if (!validate(value)) throw new Error(`${text}: ${ajv.errorsText(validate.errors)}`);
      }
      expect(finished).toBeGreaterThan(0);
    });
  }
});

describe("JSON Schema errors", { timeout: 60_000 }, () => {
  const code = (schema: JsonSchema): [string, string | undefined] => {
    try {
      jsonSchemaGrammar(schema);
      return ["none", undefined];
    } catch (e) {
      return [(e as ConstraintError).code, (e as ConstraintError).keyword];
    }
  };
  it("unsupported keywords are named", () => {
    expect(code({ type: "array", uniqueItems: true })).toEqual(["CONSTRAINT_UNSUPPORTED", "uniqueItems"]);
    expect(code({ not: { type: "string" } })).toEqual(["CONSTRAINT_UNSUPPORTED", "not"]);
    expect(code({ type: "string", format: "email" })).toEqual(["CONSTRAINT_UNSUPPORTED", "format"]);
    expect(code({ type: "string", pattern: "(?=a)b" })).toEqual(["CONSTRAINT_UNSUPPORTED", "pattern at /pattern"]);
  });
  it("unsatisfiable schemas are named", () => {
    expect(code({ type: "array", minItems: 3, maxItems: 2 })).toEqual(["CONSTRAINT_UNSATISFIABLE", "minItems"]);
    expect(code({ type: "string", enum: [1, 2] })).toEqual(["CONSTRAINT_UNSATISFIABLE", "enum"]);
    expect(code({ type: "integer", minimum: 2.5, maximum: 2.9 })).toEqual(["CONSTRAINT_UNSATISFIABLE", "minimum"]);
    expect(code({ allOf: [{ type: "string" }, { type: "number" }] })).toEqual(["CONSTRAINT_UNSATISFIABLE", "type"]);
  });
});
