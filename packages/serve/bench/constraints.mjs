// What a response_format or a set of tools costs: the first request with a schema compiles it
// (the engine's loop waits meanwhile), the next ones find it in the model's ConstraintCache.
//   cd packages/serve && npx tsup && node bench/constraints.mjs
// Wall-clock milliseconds on the embedded model's 2,048-token vocabulary; the first line includes
// building the vocabulary's byte trie (once per model).
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { jsBackend } from "@zero-llm/tensor";
import { ConstraintCache, loadServedModel, toolCallGrammar } from "../dist/index.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const served = await loadServedModel(path.resolve(here, "../../../models/default"), { backend: jsBackend });
const cache = new ConstraintCache(served);

const PERSON = {
  type: "object",
  properties: {
    name: { type: "string", minLength: 1, maxLength: 16 },
    age: { type: "integer", minimum: 0, maximum: 120 },
    email: { type: ["string", "null"], pattern: "^[a-z]{1,8}@[a-z]{1,8}\\.com$" },
    role: { enum: ["juror", "judge", "clerk"] },
  },
  required: ["name", "age", "email", "role"],
  additionalProperties: false,
};
const EVENT = {
  type: "object",
  properties: {
    title: { type: "string", maxLength: 24 },
    date: { type: "string", format: "date" },
    attendees: { type: "array", items: { $ref: "#/$defs/attendee" }, minItems: 1, maxItems: 3 },
    cancelled: { type: "boolean" },
    score: { type: "number", minimum: -10, exclusiveMaximum: 10 },
  },
  required: ["title", "date", "attendees"],
  $defs: { attendee: { type: "object", properties: { id: { type: "integer", minimum: 1, maximum: 999 }, note: { type: "string", maxLength: 6 } }, required: ["id"] } },
};
const TOOLS = [
  { name: "get_weather", param: "tools[0]", parameters: { type: "object", properties: { city: { type: "string", maxLength: 20 }, unit: { enum: ["c", "f"] } }, required: ["city", "unit"] } },
  { name: "add", param: "tools[1]", parameters: { type: "object", properties: { a: { type: "integer" }, b: { type: "number" } }, required: ["a", "b"] } },
];
const cases = [
  ["json_object (and the vocabulary's trie)", { type: "json", schema: { type: "object", additionalProperties: true } }],
  ["json_schema: a person (bounds, pattern, enum, nullable)", { type: "json", schema: PERSON }],
  ["json_schema: an event (date format, $ref, nested array)", { type: "json", schema: EVENT }],
  ["tools, auto: get_weather and add", { type: "grammar", grammar: toolCallGrammar(TOOLS, { mode: "auto", parallel: true, end: ["\n"] }) }],
];
console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
console.log("| constraint | first request: compile, ms | next requests: cache hit, ms |");
console.log("|---|---:|---:|");
cases.forEach(([name, spec], i) => {
  const t0 = performance.now();
  cache.get(String(i), () => spec, "bench");
  const t1 = performance.now();
  cache.get(String(i), () => spec, "bench");
  const t2 = performance.now();
  console.log(`| ${name} | ${(t1 - t0).toFixed(0)} | ${(t2 - t1).toFixed(3)} |`);
});
