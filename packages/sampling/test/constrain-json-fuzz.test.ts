import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { ConstraintError, compileConstraint, type JsonSchema } from "../src/constrain";
import { byteVocabulary, sampleText, testRandom } from "./helpers/constrain";

const ajv = new Ajv2020({ strict: false });
addFormats(ajv);

/** A random schema from the supported keywords, nested up to `depth`. */
function randomSchema(random: () => number, depth: number): Record<string, unknown> {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const kinds = depth > 0 ? ["null", "boolean", "integer", "number", "string", "enum", "array", "object", "anyOf", "allOf"] : ["null", "boolean", "integer", "number", "string", "enum"];
  switch (pick(kinds)) {
    case "null": return { type: "null" };
    case "boolean": return random() < 0.5 ? { type: "boolean" } : { const: random() < 0.5 };
    case "integer": {
      const s: Record<string, unknown> = { type: "integer" };
      const lo = int(-500, 500);
      if (random() < 0.6) s[random() < 0.5 ? "minimum" : "exclusiveMinimum"] = lo;
      if (random() < 0.6) s[random() < 0.5 ? "maximum" : "exclusiveMaximum"] = lo + int(2, 3000);
      return s;
    }
    case "number": {
      const s: Record<string, unknown> = { type: "number" };
      const lo = Math.round((random() - 0.5) * 2000) / pick([1, 10, 100, 1000]);
      if (random() < 0.6) s[random() < 0.5 ? "minimum" : "exclusiveMinimum"] = lo;
      if (random() < 0.6) s[random() < 0.5 ? "maximum" : "exclusiveMaximum"] = lo + int(1, 50) / pick([1, 10, 100]);
      return s;
    }
    case "string": {
      const s: Record<string, unknown> = { type: "string" };
      const r = random();
      if (r < 0.25) s.format = pick(["date", "time", "date-time", "uuid"]);
      else if (r < 0.5) s.pattern = pick(["^[a-z]+$", "^[A-Z][a-z]*( [A-Z][a-z]*)*$", "\\d{3}", "^(yes|no|maybe)$", "x", "^[^\"\\\\]{2,4}$", "é|ü"]);
      if (random() < 0.5) {
        const min = int(0, 4);
        s.minLength = min;
        if (random() < 0.7) s.maxLength = min + int(0, 60);
      }
      return s;
    }
    case "enum": return { enum: [1, "two", null, { three: [3] }, 4.5, true, "é\"\\"].filter(() => random() < 0.5).concat(["always"]) };
    case "array": {
      const s: Record<string, unknown> = { type: "array" };
      if (random() < 0.4) s.prefixItems = Array.from({ length: int(1, 3) }, () => randomSchema(random, depth - 1));
      if (random() < 0.8) s.items = random() < 0.1 ? false : randomSchema(random, depth - 1);
      if (random() < 0.5) s.minItems = int(0, 2);
      if (random() < 0.5) s.maxItems = int(2, 5);
      return s;
    }
    case "object": {
      const names = ["a", "b", "name", "x-y", "é", "with space", "q\"uote"].filter(() => random() < 0.5);
      const properties = Object.fromEntries(names.map((n) => [n, randomSchema(random, depth - 1)]));
      const s: Record<string, unknown> = { type: "object", properties, required: names.filter(() => random() < 0.5) };
      const extra = random();
      if (extra < 0.3) s.additionalProperties = false;
      else if (extra < 0.5) s.additionalProperties = randomSchema(random, depth - 1);
      else if (extra < 0.6) s.additionalProperties = true;
      return s;
    }
    // oneOf compiles as anyOf (see the README): it is exact when the branches cannot overlap, as here
    case "anyOf": return random() < 0.5 ? { anyOf: [{ type: "null" }, randomSchema(random, depth - 1)] } : { oneOf: [{ type: "string", maxLength: 3 }, { type: "integer" }, { type: "array", items: randomSchema(random, depth - 1), maxItems: 2 }] };
    default:
      return {
        allOf: [
          { type: "object", properties: { k: randomSchema(random, depth - 1) }, required: ["k"] },
          { properties: { m: randomSchema(random, depth - 1) }, ...(random() < 0.5 ? { required: ["m"] } : {}) },
        ],
      };
  }
}

describe("random schemas: every output drawn from the constraint validates", { timeout: 300_000 }, () => {
  it("150 schemas × 6 outputs (byte-level vocabulary, random bytes)", () => {
    const bytes = byteVocabulary();
    const random = testRandom(2024);
    let compiled = 0, refused = 0, outputs = 0;
    for (let i = 0; i < 150; i++) {
      const schema = randomSchema(random, 2) as JsonSchema;
      let constraint;
      try {
        constraint = compileConstraint({ type: "json", schema }, bytes);
      } catch (e) {
        // only unsatisfiable combinations may be refused: everything generated here is supported
        expect(e, JSON.stringify(schema)).toBeInstanceOf(ConstraintError);
        expect((e as ConstraintError).code, `${JSON.stringify(schema)}: ${(e as Error).message}`).toBe("CONSTRAINT_UNSATISFIABLE");
        refused++;
        continue;
      }
      compiled++;
      const validate = ajv.compile(schema as object);
      for (let seed = 1; seed <= 6; seed++) {
        const text = sampleText(constraint, i * 100 + seed, 400, 0.5);
        if (text === null) continue;
        outputs++;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          throw new Error(`not JSON: ${text}\nschema: ${JSON.stringify(schema)}`);
        }
        if (!validate(value)) throw new Error(`${text}\nschema: ${JSON.stringify(schema)}\n${ajv.errorsText(validate.errors)}`);
      }
    }
    console.log(`random schemas: ${compiled} compiled, ${refused} unsatisfiable, ${outputs} outputs validated`);
    expect(compiled).toBeGreaterThan(110);
    expect(outputs).toBeGreaterThan(300);
  });
});
