import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import type { ConstraintError} from "../src/constrain";
import { Constraint, jsonSchemaGrammar, type JsonSchema } from "../src/constrain";
import { byteVocabulary, fullMatch, sampleText, testRandom } from "./helpers/constrain";

const ajv = new Ajv2020({ strict: false });
addFormats(ajv);
const bytes = byteVocabulary();
const compile = (schema: JsonSchema): Constraint => new Constraint(jsonSchemaGrammar(schema), bytes);

describe("integer bounds are exact (digit automaton, no post-check)", { timeout: 60_000 }, () => {
  const cases: JsonSchema[] = [
    { type: "integer", minimum: -123, maximum: 4567 },
    { type: "integer", exclusiveMinimum: -20, exclusiveMaximum: 1000 },
    { type: "integer", minimum: 5 },
    { type: "integer", exclusiveMaximum: -7 },
    { type: "integer", minimum: 0, maximum: 0 },
    { type: "integer", minimum: 2.5, maximum: 99.5 },
    { type: "integer", minimum: 99999990, maximum: 100000010 },
  ];
  for (const schema of cases) {
    it(JSON.stringify(schema), () => {
      const c = compile(schema);
      const validate = ajv.compile(schema as object);
      const s = schema as Record<string, number>;
      const centre = [s.minimum, s.maximum, s.exclusiveMinimum, s.exclusiveMaximum].filter((x) => x !== undefined).map(Math.round);
      for (const at of centre) {
        for (let x = at - 40; x <= at + 40; x++) expect(fullMatch(c, String(x)), String(x)).toBe(validate(x));
      }
      for (const bad of ["-0", "007", "+5", "1e2", "1.0", " 5"]) expect(fullMatch(c, bad), bad).toBe(false);
      for (let seed = 1; seed <= 30; seed++) {
        const text = sampleText(c, seed, 20, 0.4);
        if (text !== null) expect(validate(JSON.parse(text)), text).toBe(true);
      }
    });
  }
});

/** Digits of a plain decimal string, a lone leading "0" integer part not counted. */
function digitCount(text: string): number {
  return text.replace(/^-/, "").replace(/^0\./, ".").replace(".", "").length;
}

// Bounded numbers are written with at most 15 digits (a lone leading "0" aside) and no exponent:
// within that set two decimals are two doubles in the same order, so the bounds hold after parsing.
describe("number bounds are exact for every decimal of at most 15 digits", { timeout: 60_000 }, () => {
  const cases: JsonSchema[] = [
    { type: "number", minimum: 0.1, exclusiveMaximum: 0.3 },
    { type: "number", exclusiveMinimum: -1.5, maximum: 2.25 },
    { type: "number", minimum: -0.001, maximum: 0 },
    { type: "number", exclusiveMinimum: 0, maximum: 1e-7 },
    { type: "number", minimum: 123.456, maximum: 123.457 },
    { type: "number", exclusiveMinimum: 0.30000000000000004, exclusiveMaximum: 0.30000000000001 },
    { type: "number", exclusiveMaximum: -2 },
  ];
  for (const schema of cases) {
    it(JSON.stringify(schema), () => {
      const c = compile(schema);
      const validate = ajv.compile(schema as object);
      const random = testRandom(5);
      const s = schema as Record<string, number>;
      const anchors = [s.minimum, s.maximum, s.exclusiveMinimum, s.exclusiveMaximum].filter((x) => x !== undefined);
      let accepted = 0;
      const probes: string[] = [];
      for (const anchor of anchors) {
        for (let k = 1; k <= 15; k++) for (const d of [-1, 1]) probes.push((anchor + d * 10 ** -k).toFixed(k), (anchor + d * 10 ** -k).toFixed(Math.min(15, k + 2)));
      }
      for (let i = 0; i < 3000 + probes.length; i++) {
        // decimals near a bound: the bound's digits, perturbed in the last places, or random digits
        const anchor = anchors[i % anchors.length];
        let text: string;
        if (i >= 3000) text = probes[i - 3000];
        else if (i % 3 === 0) text = (anchor + (random() - 0.5) * 10 ** -Math.floor(random() * 12)).toFixed(Math.floor(random() * 16));
        else if (i % 3 === 1) text = anchor.toFixed(Math.floor(random() * 14)) + String(Math.floor(random() * 10)).repeat(Math.floor(random() * 3));
        else text = (anchor * (1 + (random() - 0.5) * 0.1)).toPrecision(1 + Math.floor(random() * 15));
        if (!/^-?(0|[1-9]\d*)(\.\d+)?$/.test(text)) continue;
        const expected = validate(JSON.parse(text)) && digitCount(text) <= 15 && !/^-0(\.0*)?$/.test(text);
        if (expected) accepted++;
        expect(fullMatch(c, text), text).toBe(expected);
      }
      expect(accepted).toBeGreaterThan(0);
      for (let seed = 1; seed <= 40; seed++) {
        const text = sampleText(c, seed, 24, 0.3);
        if (text !== null) expect(validate(JSON.parse(text)), text).toBe(true);
      }
    });
  }

  it("bounds beyond 15 significant digits are refused cleanly", () => {
    try {
      jsonSchemaGrammar({ type: "number", minimum: 1e15, maximum: 2e15 });
      throw new Error("no error");
    } catch (e) {
      expect((e as ConstraintError).code).toBe("CONSTRAINT_UNSATISFIABLE");
      expect((e as ConstraintError).keyword).toBe("minimum");
    }
  });
});

describe("formats", { timeout: 60_000 }, () => {
  const quoted = (s: string): string => JSON.stringify(s);
  it("date: every day of the calendar, leap years included, as ajv-formats checks it", () => {
    const c = compile({ type: "string", format: "date" });
    const validate = ajv.compile({ type: "string", format: "date" });
    for (const year of ["0000", "1900", "2000", "2023", "2024", "2100", "9999"]) {
      for (let month = 0; month <= 13; month++) {
        for (let day = 0; day <= 32; day++) {
          const text = `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
          expect(fullMatch(c, quoted(text)), text).toBe(validate(text));
        }
      }
    }
  });
  it("time and date-time: what we accept ajv accepts; the canonical forms are all accepted", () => {
    const random = testRandom(11);
    const two = (n: number): string => String(n).padStart(2, "0");
    for (const format of ["time", "date-time"]) {
      const c = compile({ type: "string", format });
      const validate = ajv.compile({ type: "string", format });
      for (let i = 0; i < 2000; i++) {
        const time = `${two(Math.floor(random() * 26))}:${two(Math.floor(random() * 62))}:${two(Math.floor(random() * 62))}` +
          (random() < 0.3 ? `.${String(Math.floor(random() * 1000))}` : "") +
          (random() < 0.4 ? "Z" : `${random() < 0.5 ? "+" : "-"}${two(Math.floor(random() * 26))}:${two(Math.floor(random() * 62))}`);
        const text = format === "time" ? time : `2024-02-${two(1 + Math.floor(random() * 30))}T${time}`;
        // every field within its range (ajv-formats also lets some leap-second spellings through: we do not write those)
        const fields = /(\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:Z|[+-](\d\d):(\d\d))$/.exec(text);
        const inRange = fields !== null && Number(fields[1]) <= 23 && Number(fields[2]) <= 59 && Number(fields[3]) <= 59 && Number(fields[4] ?? 0) <= 23 && Number(fields[5] ?? 0) <= 59;
        const expected = validate(text) && inRange;
        expect(fullMatch(c, quoted(text)), text).toBe(expected);
      }
    }
  });
  it("uuid", () => {
    const c = compile({ type: "string", format: "uuid" });
    expect(fullMatch(c, quoted("123e4567-e89b-12d3-a456-426614174000"))).toBe(true);
    expect(fullMatch(c, quoted("123e4567e89b12d3a456426614174000"))).toBe(false);
    expect(fullMatch(c, quoted("123e4567-e89b-12d3-a456-42661417400"))).toBe(false);
  });
});
