import type { JsonSchema } from "../../src/constrain";

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

