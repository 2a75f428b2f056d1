import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { Constraint, ConstraintError, jsonSchemaGrammar, type JsonSchema } from "../src/constrain";
import { checkWalk, smallVocabulary } from "./helpers/constrain";

const ajv = new Ajv2020({ strict: false });
addFormats(ajv);

/** Schemas covering every supported keyword, with a few strings the small vocabulary should contain. */
export const SCHEMAS: { name: string; schema: JsonSchema; pieces: string[] }[] = [
  {
    name: "person",
    schema: {
      type: "object",
      properties: {
        name: { type: "string", minLength: 1, maxLength: 12 },
        age: { type: "integer", minimum: 0, maximum: 150 },
        email: { type: "string", pattern: "^[a-z]+@[a-z]+\\.(com|org)$" },
        tags: { type: "array", items: { enum: ["a", "b", "c"] }, maxItems: 3 },
      },
      required: ["name", "age"],
      additionalProperties: false,
    },
    pieces: ['{"', '"name"', '": "', 'Bob', '", "', 'age', '": ', '42', '}', 'email', '@', '.com', '["', '"a"', '"]'],
  },
  {
    name: "numbers",
    schema: {
      type: "object",
      properties: {
        x: { type: "number", exclusiveMinimum: -1.5, maximum: 2.25 },
        n: { type: "integer", exclusiveMinimum: -20, exclusiveMaximum: 1000 },
        p: { type: "number", minimum: 0.1, exclusiveMaximum: 0.3 },
      },
      required: ["x", "n", "p"],
    },
    pieces: ['{"x": ', '-1.', '0.2', '5', '99', '", "', '"n": ', '"p":', '0.1', '00', '}'],
  },
  {
    name: "union and const",
    schema: {
      anyOf: [
        { type: "string", enum: ["red", "green", "blue"] },
        { type: "integer", minimum: 5, maximum: 7 },
        { const: { ok: true } },
        { type: "null" },
      ],
    },
    pieces: ['"red"', '"gr', 'een"', '{"ok"', 'true}', 'null', '6'],
  },
  {
    name: "tuple and formats",
    schema: {
      type: "array",
      prefixItems: [{ type: "string", format: "date" }, { type: "string", format: "uuid" }, { type: "boolean" }],
      items: { type: "string", format: "time" },
      minItems: 2,
      maxItems: 4,
    },
    pieces: ['["', '2024', '-02-', '29', '", "', '12:', '00', 'Z"', 'true', ']', 'abc', '-4'],
  },
  {
    name: "recursive $ref",
    schema: {
      $defs: { node: { type: "object", properties: { v: { type: "integer", minimum: 0, maximum: 9 }, kids: { type: "array", items: { $ref: "#/$defs/node" }, maxItems: 2 } }, required: ["v"], additionalProperties: false } },
      $ref: "#/$defs/node",
    },
    pieces: ['{"v": ', '"kids": [', ']}', '}, {', '3'],
  },
  {
    name: "allOf and additionalProperties",
    schema: {
      // the first schema's additionalProperties also binds "score", declared only by the second:
      // score must be an integer in 0..3 and a number in 0..1, so 0 or 1
      allOf: [
        { type: "object", properties: { id: { type: "string", pattern: "^[A-Z]{2}[0-9]+$", maxLength: 6 } }, required: ["id"], additionalProperties: { type: "integer", minimum: 0, maximum: 3 } },
        { properties: { score: { type: "number", minimum: 0, maximum: 1 } }, required: ["score"] },
      ],
    },
    pieces: ['{"id": "', 'AB', '12', '", "score": ', '0.5', '"x": ', '2', '}'],
  },
];

describe("JSON Schema: masks against brute force, outputs validated by ajv", () => {
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
        const text = new TextDecoder().decode(walk.text);
        const value: unknown = JSON.parse(text);
        if (!validate(value)) throw new Error(`${text}: ${ajv.errorsText(validate.errors)}`);
      }
      expect(finished).toBeGreaterThan(0);
    });
  }
});

describe("JSON Schema errors", () => {
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
