import { ServeError } from "../errors";

/**
 * Typed reads of a JSON request body. As the OpenAI API does: an absent field or `null` takes the
 * default, an unknown field is ignored, and a field of the wrong type or out of range is a 400
 * whose `param` names it and whose message says what was expected and what was found.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** "a string (\"12\")", "an array", "null": how a found value is named in messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "string": {
      const shown = value.length > 40 ? `${JSON.stringify(value.slice(0, 40))}…` : JSON.stringify(value);
      return `a string (${shown})`;
    }
    case "number":
      return Number.isInteger(value) ? `the integer ${value}` : `the number ${value}`;
    case "boolean":
      return `${value}`;
    case "object":
      return "an object";
    default:
      return typeof value;
  }
}

export function invalidType(param: string, expected: string, found: unknown): ServeError {
  return new ServeError("invalid_type", `Invalid type for '${param}': expected ${expected}, found ${describe(found)}.`, { param });
}

export function invalidValue(param: string, expected: string, found: unknown, cause?: unknown): ServeError {
  return new ServeError("invalid_value", `Invalid value for '${param}': expected ${expected}, found ${describe(found)}.`, { param, ...(cause === undefined ? {} : { cause }) });
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

interface NumberRule {
  min?: number;
  max?: number;
  /** Exclusive lower bound. */
  above?: number;
  integer?: boolean;
}

function range(rule: NumberRule): string {
  const kind = rule.integer ? "an integer" : "a number";
  const lo = rule.above !== undefined ? `(${rule.above}` : rule.min !== undefined ? `[${rule.min}` : undefined;
  if (lo !== undefined && rule.max !== undefined) return `${kind} in ${lo}, ${rule.max}]`;
  if (rule.above !== undefined) return `${kind} > ${rule.above}`;
  if (rule.min !== undefined) return `${kind} ≥ ${rule.min}`;
  if (rule.max !== undefined) return `${kind} ≤ ${rule.max}`;
  return kind;
}

/** Field reads over one object; `prefix` names nested objects in messages ("messages[2]"). */
export class Fields {
  constructor(readonly body: JsonObject, private readonly prefix = "") {}

  /** The body of a request: a JSON object, else 400. */
  static of(body: unknown): Fields {
    if (!isObject(body)) throw new ServeError("invalid_type", `Invalid request body: expected a JSON object, found ${describe(body)}.`);
    return new Fields(body);
  }

  name(key: string): string {
    return this.prefix ? `${this.prefix}.${key}` : key;
  }

  /** The raw value, undefined when absent or null. */
  raw(key: string): Json | undefined {
    const v = Object.hasOwn(this.body, key) ? this.body[key] : undefined;
    return v === null ? undefined : v;
  }

  has(key: string): boolean {
    return this.raw(key) !== undefined;
  }

  string(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw invalidType(this.name(key), "a string", v);
    return v;
  }

  requiredString(key: string): string {
    const v = this.string(key);
    if (v === undefined) throw missing(this.name(key));
    return v;
  }

  boolean(key: string): boolean | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== "boolean") throw invalidType(this.name(key), "a boolean", v);
    return v;
  }

  number(key: string, rule: NumberRule = {}): number | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v)) throw invalidType(this.name(key), rule.integer ? "an integer" : "a number", v);
    if (rule.integer && !Number.isSafeInteger(v)) throw invalidType(this.name(key), "an integer", v);
    const ok =
      (rule.min === undefined || v >= rule.min) &&
      (rule.above === undefined || v > rule.above) &&
      (rule.max === undefined || v <= rule.max);
    if (!ok) throw invalidValue(this.name(key), range(rule), v);
    return v;
  }

  /** One of the given strings. */
  choice<T extends string>(key: string, choices: readonly T[]): T | undefined {
    const v = this.string(key);
    if (v === undefined) return undefined;
    if (!(choices as readonly string[]).includes(v)) throw invalidValue(this.name(key), `one of ${choices.map((c) => `'${c}'`).join(", ")}`, v);
    return v as T;
  }

  object(key: string): Fields | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!isObject(v)) throw invalidType(this.name(key), "an object", v);
    return new Fields(v, this.name(key));
  }

  array(key: string): Json[] | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw invalidType(this.name(key), "an array", v);
    return v;
  }

  /** A 400 for a field this server cannot honour yet (never silently ignored). */
  unsupported(key: string, why: string): never {
    throw new ServeError("unsupported_parameter", `Unsupported parameter: '${this.name(key)}' ${why}`, { param: this.name(key) });
  }
}

export function missing(param: string): ServeError {
  return new ServeError("missing_required_parameter", `Missing required parameter: '${param}'.`, { param });
}
