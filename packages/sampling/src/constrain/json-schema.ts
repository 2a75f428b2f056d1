import { DEFAULT_AUTOMATON_LIMITS, compileGrammar } from "./automaton";
import { ConstraintError } from "./errors";
import {
  EMPTY, NOTHING, alt, chars, intersect, isNothing, literal, optional, productiveRules, ref, repeat, separated, seq, star,
  type Expr, type Grammar,
} from "./grammar";
import { ANY_INTEGER, ANY_NUMBER, MAX_SAFE, decimalRange, integerRange } from "./json-numbers";
import {
  ANNOTATIONS, JSON_TYPES, badSchema, emptyFlat, escapePointer, mergeInto, pointer, show, unsupported,
  type FlatSchema, type JsonSchema, type JsonType, type Located, type SchemaObject,
} from "./json-schema-keywords";
import { keyNotIn, members, type Slot } from "./json-members";
import { FORMATS, STRING_CHAR, jsonEscape, jsonStringContent } from "./json-strings";
import { satisfies } from "./json-values";
import { regexToExpr } from "./regex";

export type { JsonSchema } from "./json-schema-keywords";

export interface JsonGrammarOptions {
  /**
   * Whitespace between JSON tokens. "bounded" (default, llama.cpp's rule): nothing, one space,
   * or a newline followed by up to 20 spaces or tabs, so a model cannot stall in whitespace.
   * "none": compact JSON.
   */
  readonly whitespace?: "bounded" | "none";
}

/** The grammar of any JSON value. */
export function jsonValueGrammar(options: JsonGrammarOptions = {}): Grammar {
  return jsonSchemaGrammar(true, options);
}

/**
 * The grammar of the JSON texts that validate against `schema`. Every keyword that constrains
 * is either compiled exactly or refused (CONSTRAINT_UNSUPPORTED naming it); an unsatisfiable
 * schema is refused (CONSTRAINT_UNSATISFIABLE naming the keyword that made it so). Two choices,
 * as llama.cpp makes them: objects get no properties beyond `properties` unless
 * `additionalProperties` asks for them, and properties come in the order they are declared.
 * `oneOf` is compiled as `anyOf`: with overlapping branches an output may match several.
 */
export function jsonSchemaGrammar(schema: JsonSchema, options: JsonGrammarOptions = {}): Grammar {
  return new SchemaCompiler(schema, options).compile();
}

const MAX_REF_DEPTH = 64;

class SchemaCompiler {
  private readonly rules = new Map<string, Expr>();
  private readonly refRules = new Map<string, string>();
  private readonly reasons: { keyword: string; path: string; message: string }[] = [];
  private readonly ws: Expr;
  private readonly sep: Expr;

  constructor(private readonly root: JsonSchema, options: JsonGrammarOptions) {
    if (typeof root !== "boolean" && (typeof root !== "object" || root === null || Array.isArray(root))) {
      throw new ConstraintError("CONSTRAINT_BAD_SCHEMA", `JSON Schema: expected an object or a boolean, found ${show(root)}`);
    }
    this.rules.set("root", NOTHING); // first in the printed grammar
    this.rules.set("ws", options.whitespace === "none" ? EMPTY : alt(EMPTY, literal(" "), seq(literal("\n"), repeat(chars([0x09, 0x09, 0x20, 0x20]), 0, 20))));
    this.ws = ref("ws");
    this.sep = seq(this.ws, literal(","), this.ws);
  }

  compile(): Grammar {
    this.rules.set("root", this.visit([{ schema: this.root, path: "" }], 0));
    if (!productiveRules(this.rules).has("root")) {
      const reason = this.reasons[0];
      throw new ConstraintError("CONSTRAINT_UNSATISFIABLE", `JSON Schema: no JSON value satisfies it${reason === undefined ? "" : `: at ${pointer(reason.path)}, ${reason.message}`}`, reason === undefined ? {} : { keyword: reason.keyword, path: reason.path });
    }
    return { rules: this.rules, root: "root" };
  }

  private empty(keyword: string, path: string, message: string): Expr {
    this.reasons.push({ keyword, path, message });
    return NOTHING;
  }

  /** The expression for the values that satisfy every schema of `conj`. */
  private visit(conj: readonly Located[], depth: number): Expr {
    if (depth > MAX_REF_DEPTH) throw new ConstraintError("CONSTRAINT_BAD_SCHEMA", `JSON Schema at ${pointer(conj[0]?.path ?? "")}: $ref / allOf nested more than ${MAX_REF_DEPTH} deep (a circular $ref?)`, { keyword: "$ref" });
    // a lone $ref (with annotations at most) is a reference to a rule: that is how recursion works
    if (conj.length === 1 && isObject(conj[0].schema) && typeof conj[0].schema.$ref === "string" && Object.keys(conj[0].schema).every((k) => k === "$ref" || ANNOTATIONS.has(k))) {
      return ref(this.refRule(conj[0].schema.$ref, conj[0].path));
    }
    // expand booleans, $ref with siblings and allOf into a flat list of schema objects
    const items: { schema: SchemaObject; path: string }[] = [];
    for (const { schema, path } of conj) {
      if (schema === true) continue;
      if (schema === false) return this.empty("false", path, "the schema `false` matches nothing");
      if (!isObject(schema)) throw new ConstraintError("CONSTRAINT_BAD_SCHEMA", `JSON Schema at ${pointer(path)}: expected a schema (object or boolean), found ${show(schema)}`, { path });
      if ("$ref" in schema || "allOf" in schema) {
        const { $ref, allOf, ...rest } = schema;
        const more: Located[] = [{ schema: rest, path }];
        if ($ref !== undefined) {
          if (typeof $ref !== "string") throw badSchema("$ref", path, "a string", $ref);
          more.push({ schema: this.resolve($ref, path), path: refPath($ref) });
        }
        if (allOf !== undefined) {
          if (!Array.isArray(allOf) || allOf.length === 0) throw badSchema("allOf", path, "a non-empty array of schemas", allOf);
          allOf.forEach((s, i) => more.push({ schema: s as JsonSchema, path: `${path}/allOf/${i}` }));
        }
        return this.visit([...conj.filter((c) => c.schema !== schema), ...more], depth + 1);
      }
      items.push({ schema, path });
    }
    if (items.length === 0) return this.primitive("value");
    // distribute over the first anyOf / oneOf: (A ∨ B) ∧ rest = (A ∧ rest) ∨ (B ∧ rest)
    const k = items.findIndex((it) => "anyOf" in it.schema || "oneOf" in it.schema);
    if (k >= 0) {
      const { schema, path } = items[k];
      const key = "anyOf" in schema ? "anyOf" : "oneOf";
      const { [key]: options, ...rest } = schema;
      if (!Array.isArray(options) || options.length === 0) throw badSchema(key, path, "a non-empty array of schemas", options);
      const others: Located[] = [...items.filter((_, i) => i !== k), { schema: rest, path }];
      const branches = options.map((option, i) => this.visit([...others, { schema: option as JsonSchema, path: `${path}/${key}/${i}` }], depth + 1));
      return alt(...branches);
    }
    const flat = emptyFlat();
    for (const it of items) mergeInto(flat, it.schema, it.path);
    return this.generate(flat, items, conj[0]?.path ?? "");
  }

  private generate(flat: FlatSchema, items: readonly { schema: SchemaObject; path: string }[], path: string): Expr {
    if (flat.values !== null) {
      const resolve = (r: string): JsonSchema => this.resolve(r, path);
      const values = flat.values.filter((v) => items.every((it) => satisfies(v, it.schema, resolve)));
      if (values.length === 0) return this.empty("enum", flat.origin.get("enum") ?? path, "no value of enum / const satisfies the other keywords");
      return alt(...values.map((v) => literal(JSON.stringify(v))));
    }
    let types: Set<JsonType>;
    if (flat.types !== null) types = flat.types;
    else if (flat.families.size > 0) types = new Set(flat.families);
    else types = new Set(JSON_TYPES);
    if (types.size === 0) return this.empty("type", flat.origin.get("type") ?? path, "the `type` keywords have no type in common");
    const options: Expr[] = [];
    for (const t of JSON_TYPES) {
      if (!types.has(t) || (t === "integer" && types.has("number"))) continue;
      options.push(this.generateType(t, flat, path));
    }
    return alt(...options);
  }

  private generateType(type: JsonType, flat: FlatSchema, path: string): Expr {
    switch (type) {
      case "null": return literal("null");
      case "boolean": return alt(literal("true"), literal("false"));
      case "string": return this.string(flat, path);
      case "integer": return this.integer(flat, path);
      case "number": return this.number(flat, path);
      case "object": return this.object(flat, path);
      case "array": return this.array(flat, path);
    }
  }

  private string(flat: FlatSchema, path: string): Expr {
    const { minLength, maxLength } = flat;
    if (minLength > maxLength) return this.empty("minLength", flat.origin.get("minLength") ?? path, `minLength ${minLength} is above maxLength ${maxLength}`);
    const parts: Expr[] = [];
    for (const { pattern, path: at } of flat.patterns) {
      parts.push(jsonStringContent(regexToExpr(pattern, { mode: "search", keyword: `pattern at ${at}` })));
    }
    for (const { format, path: at } of flat.formats) {
      const expr = FORMATS.get(format);
      if (expr === undefined) throw unsupported("format", at.slice(0, at.lastIndexOf("/")), `format "${format}"; supported formats: ${[...FORMATS.keys()].join(", ")}`);
      parts.push(expr);
    }
    const bounded = minLength > 0 || maxLength < Infinity;
    let content: Expr;
    if (parts.length === 0) content = bounded ? repeat(this.primitive("char"), minLength, maxLength) : star(this.primitive("char"));
    else {
      if (bounded) parts.push(repeat(STRING_CHAR, minLength, maxLength));
      content = intersect(...parts);
      if (parts.length > 1 && !nonEmpty(content)) {
        const keys = [...flat.patterns.map(() => "pattern"), ...flat.formats.map(() => "format"), ...(bounded ? ["minLength/maxLength"] : [])];
        return this.empty(keys[0], flat.patterns[0]?.path ?? flat.formats[0]?.path ?? path, `no string satisfies ${keys.join(" and ")} together`);
      }
    }
    return seq(literal('"'), content, literal('"'));
  }

  private integer(flat: FlatSchema, path: string): Expr {
    const { minimum, maximum } = flat;
    if (minimum === null && maximum === null) return this.primitive("integer");
    const lo = minimum === null ? null : BigInt(minimum.inclusive ? Math.ceil(minimum.value) : Math.floor(minimum.value) + 1);
    const hi = maximum === null ? null : BigInt(maximum.inclusive ? Math.floor(maximum.value) : Math.ceil(maximum.value) - 1);
    const at = flat.origin.get("minimum") ?? flat.origin.get("maximum") ?? path;
    if (lo !== null && hi !== null && lo > hi) return this.empty("minimum", at, `no integer lies between ${show(minimum?.value)} and ${show(maximum?.value)}`);
    const e = integerRange(lo, hi);
    if (isNothing(e)) return this.empty("minimum", at, `no integer within ±${MAX_SAFE} (the exact range of doubles) satisfies the bounds`);
    return e;
  }

  private number(flat: FlatSchema, path: string): Expr {
    const { minimum, maximum } = flat;
    if (minimum === null && maximum === null) return this.primitive("number");
    const e = decimalRange(minimum, maximum);
    if (isNothing(e)) {
      return this.empty("minimum", flat.origin.get("minimum") ?? flat.origin.get("maximum") ?? path, `no number of at most 15 digits lies within ${minimum === null ? "" : `${minimum.inclusive ? "[" : "("}${minimum.value}`}, ${maximum === null ? "" : `${maximum.value}${maximum.inclusive ? "]" : ")"}`}`);
    }
    return e;
  }

  private object(flat: FlatSchema, path: string): Expr {
    if (flat.properties.size === 0 && flat.required.size === 0 && flat.additional === null && flat.additionalAllowed) return this.primitive("object");
    const slots: Slot[] = [];
    const names = new Set<string>();
    for (const [name, declared] of flat.properties) {
      names.add(name);
      const required = flat.required.has(name);
      // a schema that closes its object (additionalProperties) and does not declare this name constrains it too
      const conj = [...declared];
      let forbidden = "";
      for (const closed of flat.closed) {
        if (closed.names.has(name)) continue;
        if (closed.extra === false) forbidden = closed.path;
        else conj.push({ schema: closed.extra, path: closed.path });
      }
      if (forbidden !== "") {
        if (required) return this.empty("additionalProperties", forbidden, `required property "${name}" is excluded by additionalProperties: false of a schema that does not declare it`);
        continue;
      }
      const value = this.named(`${path}/properties/${escapePointer(name)}`, this.visit(conj, 0));
      if (isNothing(value)) {
        if (required) return this.empty("required", conj[0].path, `required property "${name}" cannot have any value`);
        continue;
      }
      slots.push({ expr: this.member(literal(`"${jsonEscape(name)}"`), value), kind: required ? "one" : "optional" });
    }
    const extras = flat.additionalAllowed ? flat.additional : null;
    for (const name of flat.required) {
      if (names.has(name)) continue;
      names.add(name);
      if (!flat.additionalAllowed) return this.empty("required", flat.origin.get("additionalProperties") ?? path, `required property "${name}" is not in properties and additionalProperties is false`);
      const value = this.named(`${path}/required/${escapePointer(name)}`, this.visit(extras ?? [], 0));
      slots.push({ expr: this.member(literal(`"${jsonEscape(name)}"`), value), kind: "one" });
    }
    if (extras !== null) {
      const value = this.named(`${path}/additionalProperties`, this.visit(extras, 0));
      if (!isNothing(value)) slots.push({ expr: this.member(keyNotIn([...names]), value), kind: "any" });
    }
    return members("{", "}", slots, this.ws, this.sep);
  }

  private array(flat: FlatSchema, path: string): Expr {
    const prefix = flat.prefixItems;
    let max = Math.min(flat.maxItems, flat.restLimit);
    const elements: Expr[] = [];
    for (let i = 0; i < prefix.length && i < max; i++) {
      const e = this.named(`${path}/prefixItems/${i}`, this.visit(prefix[i], 0));
      if (isNothing(e)) max = i;
      else elements.push(e);
    }
    let rest: Expr = NOTHING;
    if (max > prefix.length) {
      rest = this.named(`${path}/items`, this.visit(flat.rest, 0));
      if (isNothing(rest)) max = prefix.length;
    }
    if (flat.minItems > max) {
      return this.empty("minItems", flat.origin.get("minItems") ?? path, `minItems ${flat.minItems} cannot be met: ${max === flat.maxItems ? `maxItems is ${max}` : `at most ${max} items can have a value`}`);
    }
    if (max === 0) return seq(literal("["), this.ws, literal("]"));
    const minItems = flat.minItems;
    const sep = this.sep;
    // at least one element: element i (after i others) then what may follow it
    const from = (i: number): Expr => {
      if (i >= max) return EMPTY;
      if (i < prefix.length) {
        const item = seq(i === 0 ? EMPTY : sep, elements[i], from(i + 1));
        return i < Math.max(minItems, 1) ? item : optional(item);
      }
      const restMax = max - i;
      if (i === 0) return separated(rest, sep, Math.max(minItems, 1), restMax);
      return repeat(seq(sep, rest), Math.max(0, minItems - i), restMax);
    };
    const some = seq(from(0), this.ws);
    return seq(literal("["), this.ws, minItems === 0 ? optional(some) : some, literal("]"));
  }

  /** `key ws : ws value` */
  private member(key: Expr, value: Expr): Expr {
    return seq(key, this.ws, literal(":"), this.ws, value);
  }

  /** A rule named after a schema path, so that big sub-schemas compile once and are shared. */
  private named(path: string, body: Expr): Expr {
    if (isNothing(body) || body.kind === "ref" || body.kind === "literal" || body.kind === "empty") return body;
    let name = `root${path.replace(/[^a-zA-Z0-9]+/g, "-").replace(/-$/, "")}`;
    for (let i = 2; this.rules.has(name); i++) name = `${name.replace(/-\d+$/, "")}-${i}`;
    this.rules.set(name, body);
    return ref(name);
  }

  /** Shared rules for unconstrained values, defined on first use. */
  private primitive(name: "value" | "object" | "array" | "string" | "char" | "number" | "integer"): Expr {
    if (!this.rules.has(name)) {
      this.rules.set(name, NOTHING); // reserve (value and object refer to each other)
      const ws = this.ws, sep = this.sep;
      const body: Record<typeof name, () => Expr> = {
        value: () => alt(this.primitive("object"), this.primitive("array"), this.primitive("string"), this.primitive("number"), literal("true"), literal("false"), literal("null")),
        object: () => {
          const member = this.member(this.primitive("string"), this.primitive("value"));
          return seq(literal("{"), ws, optional(seq(member, star(seq(sep, member)), ws)), literal("}"));
        },
        array: () => {
          const value = this.primitive("value");
          return seq(literal("["), ws, optional(seq(value, star(seq(sep, value)), ws)), literal("]"));
        },
        string: () => seq(literal('"'), star(this.primitive("char")), literal('"')),
        char: () => STRING_CHAR,
        number: () => ANY_NUMBER,
        integer: () => ANY_INTEGER,
      };
      this.rules.set(name, body[name]());
    }
    return ref(name);
  }

  private refRule(target: string, path: string): string {
    let name = this.refRules.get(target);
    if (name === undefined) {
      const schema = this.resolve(target, path);
      name = `ref${target.replace(/^#/, "").replace(/[^a-zA-Z0-9]+/g, "-").replace(/-$/, "")}`;
      if (name === "ref") name = "ref-root";
      for (let i = 2; this.rules.has(name); i++) name = `${name.replace(/-\d+$/, "")}-${i}`;
      this.refRules.set(target, name);
      this.rules.set(name, NOTHING); // reserved while the body is built, for recursion
      const body = this.visit([{ schema, path: refPath(target) }], 1);
      this.rules.set(name, body);
    }
    return name;
  }

  /** A local reference: "#" or a JSON pointer "#/…" into the root schema. */
  private resolve(target: string, path: string): JsonSchema {
    if (!target.startsWith("#")) throw unsupported("$ref", path, `a reference outside this document (${JSON.stringify(target)}); only local references "#/…" are`);
    if (target !== "#" && !target.startsWith("#/")) throw unsupported("$ref", path, `anchor references (${JSON.stringify(target)}); only JSON pointers "#/…" are`);
    let node: unknown = this.root;
    const tokens = target === "#" ? [] : target.slice(2).split("/");
    for (const raw of tokens) {
      const token = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
      if (typeof node !== "object" || node === null || !Object.hasOwn(node, token)) {
        throw new ConstraintError("CONSTRAINT_BAD_SCHEMA", `JSON Schema at ${pointer(path)}: $ref ${JSON.stringify(target)} points to nothing (no "${token}")`, { keyword: "$ref", path: `${path}/$ref` });
      }
      node = (node as Record<string, unknown>)[token];
    }
    if (typeof node !== "boolean" && !isObject(node)) {
      throw new ConstraintError("CONSTRAINT_BAD_SCHEMA", `JSON Schema at ${pointer(path)}: $ref ${JSON.stringify(target)} points to ${show(node)}, not a schema`, { keyword: "$ref", path: `${path}/$ref` });
    }
    return node;
  }
}

function refPath(target: string): string {
  return target.replace(/^#/, "");
}

function isObject(x: unknown): x is SchemaObject {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Whether an intersection matches some string (compiles it on its own). */
function nonEmpty(e: Expr): boolean {
  try {
    compileGrammar({ rules: new Map([["s", e]]), root: "s" }, DEFAULT_AUTOMATON_LIMITS);
    return true;
  } catch (err) {
    if (err instanceof ConstraintError && err.code === "CONSTRAINT_UNSATISFIABLE") return false;
    throw err;
  }
}
