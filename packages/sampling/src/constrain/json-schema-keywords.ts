import { ConstraintError } from "./errors";

/**
 * JSON Schema keywords: which ones we read, which we ignore, and the merged ("flat") form of a
 * conjunction of schemas (allOf, $ref with siblings, anyOf branches with their siblings).
 */
export type JsonSchema = boolean | { readonly [keyword: string]: unknown };
export type SchemaObject = { readonly [keyword: string]: unknown };

/** A schema and where it sits (JSON pointer), for error messages. */
export interface Located {
  readonly schema: JsonSchema;
  readonly path: string;
}

export type JsonType = "null" | "boolean" | "object" | "array" | "string" | "number" | "integer";
export const JSON_TYPES: readonly JsonType[] = ["null", "boolean", "object", "array", "string", "number", "integer"];

/** Keywords that describe but do not constrain: accepted and ignored. */
export const ANNOTATIONS = new Set([
  "$schema", "$id", "$comment", "$defs", "definitions", "$anchor", "$dynamicAnchor", "$vocabulary",
  "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly",
  "contentMediaType", "contentEncoding", "contentSchema",
]);

/** Keywords we compile, by the instance type they apply to (null: any type). */
export const SUPPORTED: ReadonlyMap<string, JsonType | null> = new Map<string, JsonType | null>([
  ["type", null], ["enum", null], ["const", null], ["anyOf", null], ["oneOf", null], ["allOf", null], ["$ref", null],
  ["properties", "object"], ["required", "object"], ["additionalProperties", "object"],
  ["items", "array"], ["prefixItems", "array"], ["additionalItems", "array"], ["minItems", "array"], ["maxItems", "array"],
  ["minLength", "string"], ["maxLength", "string"], ["pattern", "string"], ["format", "string"],
  ["minimum", "number"], ["maximum", "number"], ["exclusiveMinimum", "number"], ["exclusiveMaximum", "number"],
]);

/** What a validator would check but we cannot generate exactly: refused by name. */
const WHY_NOT: Readonly<Record<string, string>> = {
  not: "negation is not a regular constraint on the generated text",
  if: "conditional schemas", then: "conditional schemas", else: "conditional schemas",
  dependentRequired: "dependent keywords", dependentSchemas: "dependent keywords", dependencies: "dependent keywords",
  patternProperties: "keys constrained by patterns", propertyNames: "keys constrained by a schema",
  minProperties: "property counts", maxProperties: "property counts",
  uniqueItems: "unique array items", contains: "contains", minContains: "contains", maxContains: "contains",
  multipleOf: "multipleOf", unevaluatedProperties: "unevaluated keywords", unevaluatedItems: "unevaluated keywords",
  $dynamicRef: "dynamic references", $recursiveRef: "dynamic references",
};

export function unsupported(keyword: string, path: string, detail?: string): ConstraintError {
  const why = detail ?? WHY_NOT[keyword] ?? "an unknown keyword";
  return new ConstraintError("CONSTRAINT_UNSUPPORTED", `JSON Schema at ${pointer(path)}: keyword "${keyword}" is not supported (${why}); supported: ${[...SUPPORTED.keys()].join(", ")}`, { keyword, path: `${path}/${escapePointer(keyword)}` });
}

export function badSchema(keyword: string, path: string, expected: string, found: unknown): ConstraintError {
  return new ConstraintError("CONSTRAINT_BAD_SCHEMA", `JSON Schema at ${pointer(path)}: "${keyword}": expected ${expected}, found ${show(found)}`, { keyword, path: `${path}/${escapePointer(keyword)}` });
}

export function pointer(path: string): string {
  return path === "" ? "the root" : path;
}

export function escapePointer(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

export function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Bound on a number: value and whether it is included. */
export interface NumberBound {
  value: number;
  inclusive: boolean;
}

/** The merged constraints of a conjunction, keyword by keyword. */
export interface FlatSchema {
  /** Allowed types; null = not restricted by `type`. */
  types: Set<JsonType> | null;
  /** Allowed values (enum ∩ const); null = not restricted. */
  values: unknown[] | null;
  /** Families that have type-specific keywords (to choose what to generate without `type`). */
  families: Set<JsonType>;
  properties: Map<string, Located[]>;
  required: Set<string>;
  /** Extra properties: null = none generated (absent everywhere, llama.cpp's default), else the schemas they must satisfy ([] = any value). */
  additional: Located[] | null;
  /** False when some schema forbids extra properties. */
  additionalAllowed: boolean;
  /** Schemas with additionalProperties (false or a schema) and the names they declare: other names must satisfy `extra`. */
  closed: { names: Set<string>; extra: JsonSchema; path: string }[];
  prefixItems: Located[][];
  /** Schemas every item past the prefix must satisfy; null when some schema forbids items past its prefix at `restLimit`. */
  rest: Located[];
  /** Items past this index are forbidden (items: false / additionalItems: false). */
  restLimit: number;
  minItems: number;
  maxItems: number;
  minLength: number;
  maxLength: number;
  patterns: { pattern: string; path: string }[];
  formats: { format: string; path: string }[];
  minimum: NumberBound | null;
  maximum: NumberBound | null;
  /** Where each merged keyword came from (the tightest), for error messages. */
  origin: Map<string, string>;
}

export function emptyFlat(): FlatSchema {
  return {
    types: null, values: null, families: new Set(), properties: new Map(), required: new Set(),
    additional: null, additionalAllowed: true, closed: [], prefixItems: [], rest: [], restLimit: Infinity,
    minItems: 0, maxItems: Infinity, minLength: 0, maxLength: Infinity, patterns: [], formats: [],
    minimum: null, maximum: null, origin: new Map(),
  };
}

const isObject = (x: unknown): x is SchemaObject => typeof x === "object" && x !== null && !Array.isArray(x);
const isSchema = (x: unknown): x is JsonSchema => typeof x === "boolean" || isObject(x);
const isCount = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x) && x >= 0;

/**
 * Adds one schema object (no $ref / allOf / anyOf / oneOf left: the caller expanded them) to the
 * flat form. Keyword values are validated here.
 */
export function mergeInto(flat: FlatSchema, schema: SchemaObject, path: string): void {
  for (const keyword of Object.keys(schema)) {
    if (ANNOTATIONS.has(keyword) || SUPPORTED.has(keyword)) continue;
    throw unsupported(keyword, path);
  }
  const at = (k: string): string => `${path}/${escapePointer(k)}`;
  for (const [keyword, family] of SUPPORTED) if (family !== null && keyword in schema) flat.families.add(family);

  if ("type" in schema) {
    const t = schema.type;
    const list = Array.isArray(t) ? t : [t];
    if (list.length === 0 || !list.every((x): x is JsonType => typeof x === "string" && (JSON_TYPES as readonly string[]).includes(x))) {
      throw badSchema("type", path, `one of ${JSON_TYPES.join(", ")} or an array of them`, t);
    }
    const mine = new Set<JsonType>(list);
    if (mine.has("number")) mine.add("integer");
    if (flat.types === null) flat.types = mine;
    else {
      const both = new Set<JsonType>();
      for (const x of flat.types) if (mine.has(x)) both.add(x);
      // number ∩ integer = integer
      flat.types = both;
    }
    flat.origin.set("type", at("type"));
  }
  if ("const" in schema) intersectValues(flat, [schema.const], at("const"));
  if ("enum" in schema) {
    if (!Array.isArray(schema.enum)) throw badSchema("enum", path, "an array", schema.enum);
    intersectValues(flat, schema.enum, at("enum"));
  }

  // objects
  if ("properties" in schema) {
    const props = schema.properties;
    if (!isObject(props)) throw badSchema("properties", path, "an object of schemas", props);
    for (const [name, sub] of Object.entries(props)) {
      if (!isSchema(sub)) throw badSchema("properties", path, `a schema for property "${name}"`, sub);
      const list = flat.properties.get(name);
      const located = { schema: sub, path: `${at("properties")}/${escapePointer(name)}` };
      if (list === undefined) flat.properties.set(name, [located]);
      else list.push(located);
    }
  }
  if ("required" in schema) {
    const req = schema.required;
    if (!Array.isArray(req) || !req.every((x) => typeof x === "string")) throw badSchema("required", path, "an array of strings", req);
    for (const name of req) flat.required.add(name);
  }
  if ("additionalProperties" in schema) {
    const extra = schema.additionalProperties;
    if (!isSchema(extra)) throw badSchema("additionalProperties", path, "a schema or a boolean", extra);
    flat.origin.set("additionalProperties", at("additionalProperties"));
    if (extra !== true) flat.closed.push({ names: new Set(isObject(schema.properties) ? Object.keys(schema.properties) : []), extra, path: at("additionalProperties") });
    if (extra === false) flat.additionalAllowed = false;
    else {
      flat.additional ??= [];
      if (extra !== true) flat.additional.push({ schema: extra, path: at("additionalProperties") });
    }
  }

  // arrays: (prefix, rest) from prefixItems + items (2020-12) or items[] + additionalItems (draft 4–7)
  let prefix: unknown[] | null = null;
  let rest: unknown = undefined;
  let restPath = "";
  if ("prefixItems" in schema) {
    if (!Array.isArray(schema.prefixItems) || !schema.prefixItems.every(isSchema)) throw badSchema("prefixItems", path, "an array of schemas", schema.prefixItems);
    prefix = schema.prefixItems;
    if ("items" in schema) [rest, restPath] = [schema.items, at("items")];
  } else if (Array.isArray(schema.items)) {
    if (!schema.items.every(isSchema)) throw badSchema("items", path, "a schema or an array of schemas", schema.items);
    prefix = schema.items;
    if ("additionalItems" in schema) [rest, restPath] = [schema.additionalItems, at("additionalItems")];
  } else if ("items" in schema) [rest, restPath] = [schema.items, at("items")];
  if (rest !== undefined && !isSchema(rest)) throw badSchema(restPath.slice(restPath.lastIndexOf("/") + 1), path, "a schema or a boolean", rest);
  const prefixPath = "prefixItems" in schema ? at("prefixItems") : at("items");
  const prefixLength = prefix?.length ?? 0;
  // merge element by element: index i of this schema is prefix[i] or its rest
  const n = Math.max(flat.prefixItems.length, prefixLength);
  for (let i = 0; i < n; i++) {
    if (i >= flat.prefixItems.length) flat.prefixItems.push([...flat.rest]);
    const mine = prefix !== null && i < prefixLength ? { schema: prefix[i] as JsonSchema, path: `${prefixPath}/${i}` } : rest === undefined ? null : { schema: rest, path: restPath };
    if (mine !== null) flat.prefixItems[i].push(mine);
    if (prefix !== null && i >= prefixLength && rest === false) flat.restLimit = Math.min(flat.restLimit, prefixLength);
  }
  if (rest !== undefined) {
    if (rest === false) flat.restLimit = Math.min(flat.restLimit, prefixLength);
    else flat.rest.push({ schema: rest, path: restPath });
  }
  for (const k of ["minItems", "maxItems", "minLength", "maxLength"] as const) {
    if (!(k in schema)) continue;
    const v = schema[k];
    if (!isCount(v)) throw badSchema(k, path, "a non-negative integer", v);
    const tighter = k.startsWith("min") ? v > flat[k] : v < flat[k];
    if (tighter) {
      flat[k] = v;
      flat.origin.set(k, at(k));
    }
  }

  // strings
  if ("pattern" in schema) {
    if (typeof schema.pattern !== "string") throw badSchema("pattern", path, "a string (a regular expression)", schema.pattern);
    if (!flat.patterns.some((p) => p.pattern === schema.pattern)) flat.patterns.push({ pattern: schema.pattern, path: at("pattern") });
  }
  if ("format" in schema) {
    if (typeof schema.format !== "string") throw badSchema("format", path, "a string", schema.format);
    if (!flat.formats.some((f) => f.format === schema.format)) flat.formats.push({ format: schema.format, path: at("format") });
  }

  // numbers (draft 6+: exclusive bounds are numbers; draft 4: booleans modifying minimum/maximum)
  for (const [k, exclusiveKey, side] of [["minimum", "exclusiveMinimum", "minimum"], ["maximum", "exclusiveMaximum", "maximum"]] as const) {
    const plain = schema[k], exclusive = schema[exclusiveKey];
    if (plain !== undefined && (typeof plain !== "number" || !Number.isFinite(plain))) throw badSchema(k, path, "a finite number", plain);
    if (exclusive !== undefined && typeof exclusive !== "boolean" && (typeof exclusive !== "number" || !Number.isFinite(exclusive))) throw badSchema(exclusiveKey, path, "a finite number (or, draft 4, a boolean)", exclusive);
    if (typeof exclusive === "boolean") {
      if (plain !== undefined) tightenBound(flat, side, { value: plain, inclusive: !exclusive }, at(exclusive ? exclusiveKey : k));
    } else {
      if (plain !== undefined) tightenBound(flat, side, { value: plain, inclusive: true }, at(k));
      if (exclusive !== undefined) tightenBound(flat, side, { value: exclusive, inclusive: false }, at(exclusiveKey));
    }
  }
}

function tightenBound(flat: FlatSchema, side: "minimum" | "maximum", bound: NumberBound, path: string): void {
  const current = flat[side];
  const tighter = current === null
    || (side === "minimum" ? bound.value > current.value : bound.value < current.value)
    || (bound.value === current.value && !bound.inclusive);
  if (tighter) {
    flat[side] = bound;
    flat.origin.set(side, path);
  }
}

function intersectValues(flat: FlatSchema, values: readonly unknown[], path: string): void {
  const keyed = new Map<string, unknown>();
  for (const v of values) keyed.set(canonicalJson(v), v);
  if (flat.values === null) flat.values = [...keyed.values()];
  else flat.values = flat.values.filter((v) => keyed.has(canonicalJson(v)));
  flat.origin.set("enum", path);
}

/** JSON text with object keys sorted: equal JSON values have equal canonical text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
