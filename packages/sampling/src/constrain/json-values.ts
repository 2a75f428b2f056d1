import { canonicalJson, type JsonSchema, type SchemaObject } from "./json-schema-keywords";

/**
 * Whether a concrete JSON value satisfies a schema, for the keywords we support. Used to keep
 * only the `enum` / `const` values that also satisfy their sibling keywords (those values are
 * emitted verbatim, not generated from the other keywords). Standard semantics throughout
 * (missing additionalProperties allows extra keys, etc.).
 */
export function satisfies(value: unknown, schema: JsonSchema, resolve: (ref: string) => JsonSchema, depth = 0): boolean {
  if (schema === true) return true;
  if (schema === false) return false;
  if (depth > 64) return false;
  const s = schema;
  const sub = (v: unknown, x: unknown): boolean => satisfies(v, x as JsonSchema, resolve, depth + 1);
  if (typeof s.$ref === "string" && !sub(value, resolve(s.$ref))) return false;
  if (Array.isArray(s.allOf) && !s.allOf.every((x) => sub(value, x))) return false;
  if (Array.isArray(s.anyOf) && !s.anyOf.some((x) => sub(value, x))) return false;
  if (Array.isArray(s.oneOf) && s.oneOf.filter((x) => sub(value, x)).length !== 1) return false;
  if ("const" in s && canonicalJson(s.const) !== canonicalJson(value)) return false;
  if (Array.isArray(s.enum) && !s.enum.some((x) => canonicalJson(x) === canonicalJson(value))) return false;
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    if (!types.some((t) => hasType(value, t))) return false;
  }
  if (typeof value === "string") return stringOk(value, s);
  if (typeof value === "number") return numberOk(value, s);
  if (Array.isArray(value)) return arrayOk(value, s, sub);
  if (typeof value === "object" && value !== null) return objectOk(value as Record<string, unknown>, s, sub);
  return true;
}

function hasType(value: unknown, type: unknown): boolean {
  switch (type) {
    case "null": return value === null;
    case "boolean": return typeof value === "boolean";
    case "string": return typeof value === "string";
    case "number": return typeof value === "number" && Number.isFinite(value);
    case "integer": return typeof value === "number" && Number.isInteger(value);
    case "array": return Array.isArray(value);
    case "object": return typeof value === "object" && value !== null && !Array.isArray(value);
    default: return false;
  }
}

function stringOk(value: string, s: SchemaObject): boolean {
  const length = [...value].length;
  if (typeof s.minLength === "number" && length < s.minLength) return false;
  if (typeof s.maxLength === "number" && length > s.maxLength) return false;
  if (typeof s.pattern === "string" && !new RegExp(s.pattern, "u").test(value)) return false;
  if (typeof s.format === "string") {
    const check = FORMAT_CHECKS[s.format];
    if (check !== undefined && !check(value)) return false;
  }
  return true;
}

function numberOk(value: number, s: SchemaObject): boolean {
  const num = (x: unknown): x is number => typeof x === "number";
  if (num(s.minimum) && (s.exclusiveMinimum === true ? value <= s.minimum : value < s.minimum)) return false;
  if (num(s.maximum) && (s.exclusiveMaximum === true ? value >= s.maximum : value > s.maximum)) return false;
  if (num(s.exclusiveMinimum) && value <= s.exclusiveMinimum) return false;
  if (num(s.exclusiveMaximum) && value >= s.exclusiveMaximum) return false;
  return true;
}

function arrayOk(value: unknown[], s: SchemaObject, sub: (v: unknown, x: unknown) => boolean): boolean {
  if (typeof s.minItems === "number" && value.length < s.minItems) return false;
  if (typeof s.maxItems === "number" && value.length > s.maxItems) return false;
  const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : [];
  const rest = Array.isArray(s.prefixItems) ? s.items : Array.isArray(s.items) ? s.additionalItems : s.items;
  return value.every((v, i) => (i < prefix.length ? sub(v, prefix[i]) : rest === undefined || sub(v, rest)));
}

function objectOk(value: Record<string, unknown>, s: SchemaObject, sub: (v: unknown, x: unknown) => boolean): boolean {
  const props = typeof s.properties === "object" && s.properties !== null ? (s.properties as Record<string, unknown>) : {};
  if (Array.isArray(s.required) && !s.required.every((k) => typeof k === "string" && Object.hasOwn(value, k))) return false;
  for (const [k, v] of Object.entries(value)) {
    if (Object.hasOwn(props, k)) {
      if (!sub(v, props[k])) return false;
    } else if (s.additionalProperties !== undefined && !sub(v, s.additionalProperties)) return false;
  }
  return true;
}

const DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
function dateOk(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (m === null) return false;
  const year = Number(m[1]), month = Number(m[2]), day = Number(m[3]);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month >= 1 && month <= 12 && day >= 1 && day <= (month === 2 && leap ? 29 : DAYS[month]);
}
function timeOk(text: string): boolean {
  const m = /^(\d{2}):(\d{2}):(\d{2})(\.\d+)?(z|[+-](\d{2}):(\d{2}))$/i.exec(text);
  return m !== null && Number(m[1]) <= 23 && Number(m[2]) <= 59 && Number(m[3]) <= 59 && (m[6] === undefined || (Number(m[6]) <= 23 && Number(m[7]) <= 59));
}
const FORMAT_CHECKS: Readonly<Record<string, (text: string) => boolean>> = {
  date: dateOk,
  time: timeOk,
  "date-time": (text) => {
    const t = text.search(/[tT]/);
    return t > 0 && dateOk(text.slice(0, t)) && timeOk(text.slice(t + 1));
  },
  uuid: (text) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text),
};
