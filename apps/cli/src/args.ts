import {
  UsageError, type FlagSpec, type FlagTable, type FlagValue, type FlagValues, type IntegerListFlag, type NumberFlag, type ParsedArgs,
} from "./command";

/**
 * The flag parser every command shares. It accepts `--name value`, `--name=value`, a bare
 * `--flag` for booleans (or `--flag=true|false`), and `--` to end the flags. Anything that does
 * not fit a command's FlagSpec is a UsageError, whose message says what was expected and found.
 * Values come out typed as the table declares them (see FlagValueOf in command.ts).
 */

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export interface PositionalSpec {
  min: number;
  max: number;
}

/** "in [0, 1]", "in (0, 1]", "≥ 1", "> 0": a range in messages and help; "" when unbounded. */
function rangeText(min: number | undefined, max: number | undefined, minExclusive = false, maxExclusive = false): string {
  if (min !== undefined && max !== undefined) return `in ${minExclusive ? "(" : "["}${min}, ${max}${maxExclusive ? ")" : "]"}`;
  if (min !== undefined) return `${minExclusive ? ">" : "≥"} ${min}`;
  if (max !== undefined) return `${maxExclusive ? "<" : "≤"} ${max}`;
  return "";
}

/** One entry of a list flag, for messages: "a non-negative integer token id", "an integer prompt length in [1, 16777216]". */
function describeListItem(spec: IntegerListFlag): string {
  if (spec.min === 0 && spec.max === undefined) return `a non-negative integer ${spec.item}`;
  if (spec.min === 1 && spec.max === undefined) return `a positive integer ${spec.item}`;
  const range = rangeText(spec.min, spec.max);
  return `an integer ${spec.item}${range === "" ? "" : ` ${range}`}`;
}

/** "an integer in [1, 100000]", "a number in (0, 1)", "one of a, b, c": the words used in messages and help. */
export function describeFlagType(spec: FlagSpec): string {
  switch (spec.type) {
    case "boolean":
      return "no value";
    case "string":
      return spec.choices ? `one of ${spec.choices.join(", ")}` : "a string";
    case "number": {
      const kind = spec.integer ? "an integer" : "a number";
      const range = rangeText(spec.min, spec.max, spec.minExclusive, spec.maxExclusive);
      return range === "" ? kind : `${kind} ${range}`;
    }
    case "integers": {
      const range = rangeText(spec.min, spec.max);
      return `comma-separated ${spec.item}s, each an integer${range === "" ? "" : ` ${range}`}`;
    }
    case "strings":
      return "a string; repeatable";
  }
}

/** A flag's default as help prints it. */
export function describeDefault(spec: FlagSpec): string | undefined {
  if (spec.type === "boolean" || spec.type === "integers" || spec.type === "strings" || spec.default === undefined) return undefined;
  return String(spec.default);
}

/** Edit distance counting a swap of neighbours as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The unknown flag's message, suggesting the closest known flag when a typo is likely. */
function unknownFlag(token: string, flags: FlagTable): UsageError {
  const shown = token.split("=")[0];
  const name = shown.replace(/^-+/, "");
  let best: { flag: string; distance: number } | undefined;
  for (const known of Object.keys(flags)) {
    const distance = editDistance(name, known);
    // One edit per three characters, at most two: "stpes" → steps, but "s" is not "lr".
    const allowed = Math.min(2, Math.floor(Math.max(name.length, known.length) / 3));
    if (distance <= allowed && (best === undefined || distance < best.distance)) best = { flag: known, distance };
  }
  return new UsageError(`unknown flag ${shown}${best ? ` (did you mean --${best.flag}?)` : ""}`);
}

function inRange(spec: NumberFlag, value: number): boolean {
  return (
    Number.isFinite(value) &&
    (!spec.integer || Number.isInteger(value)) &&
    (spec.min === undefined || (spec.minExclusive ? value > spec.min : value >= spec.min)) &&
    (spec.max === undefined || (spec.maxExclusive ? value < spec.max : value <= spec.max))
  );
}

/** "1,450,9038" → [1, 450, 9038]: every entry an integer in the spec's range; no empty entry. */
function parseIntegerList(name: string, spec: IntegerListFlag, raw: string): number[] {
  const items = raw.split(",").map((s) => s.trim());
  if (items.every((s) => s === "")) throw new UsageError(`--${name}: expected comma-separated ${spec.item}s, found ${JSON.stringify(raw)}`);
  return items.map((s) => {
    if (s === "") throw new UsageError(`--${name}: expected ${describeListItem(spec)} between every two commas, found an empty entry in ${JSON.stringify(raw)}`);
    const value = /^\d+$/.test(s) ? Number(s) : NaN;
    const ok = Number.isSafeInteger(value) && (spec.min === undefined || value >= spec.min) && (spec.max === undefined || value <= spec.max);
    if (!ok) throw new UsageError(`--${name}: expected ${describeListItem(spec)}, found ${JSON.stringify(s)}`);
    return value;
  });
}

function parseValue(name: string, spec: FlagSpec, raw: string): FlagValue {
  switch (spec.type) {
    case "boolean":
      if (raw === "true") return true;
      if (raw === "false") return false;
      throw new UsageError(`--${name} takes no value (or =true / =false), found "${raw}"`);
    case "string":
      if (spec.choices && !spec.choices.includes(raw)) {
        throw new UsageError(`--${name} must be ${describeFlagType(spec)}, found "${raw}"`);
      }
      return raw;
    case "number": {
      const value = NUMBER.test(raw) ? Number(raw) : NaN;
      if (!inRange(spec, value)) throw new UsageError(`--${name} must be ${describeFlagType(spec)}, found "${raw}"`);
      return value;
    }
    case "integers":
      return parseIntegerList(name, spec, raw);
    case "strings":
      return [raw];
  }
}

/**
 * A flag's value from a JSON file (`zllm train --config`): the JSON type must be the flag's
 * (a number, a boolean, a string; a list as an array of integers or a "1,2,3" string), and the
 * value passes the same range and choice checks as on the command line. `where` starts the message.
 */
export function flagValueFromJson(where: string, key: string, spec: FlagSpec, value: unknown): FlagValue {
  const wrongType = (kind: string): UsageError => new UsageError(`${where}: "${key}" must be a ${kind}, found ${JSON.stringify(value)}`);
  const outOfRange = (cause?: unknown): UsageError =>
    new UsageError(`${where}: "${key}" must be ${describeFlagType(spec)}, found ${JSON.stringify(value)}`, cause === undefined ? undefined : { cause });
  switch (spec.type) {
    case "boolean":
      if (typeof value !== "boolean") throw wrongType("boolean");
      return value;
    case "string":
      if (typeof value !== "string") throw wrongType("string");
      if (spec.choices && !spec.choices.includes(value)) throw outOfRange();
      return value;
    case "number":
      if (typeof value !== "number") throw wrongType("number");
      if (!inRange(spec, value)) throw outOfRange();
      return value;
    case "integers": {
      const text = typeof value === "string" ? value : Array.isArray(value) && value.every((v) => typeof v === "number") ? value.join(",") : undefined;
      if (text === undefined) throw wrongType("list of integers");
      try {
        return parseIntegerList(key, spec, text);
      } catch (cause) {
        throw outOfRange(cause);
      }
    }
    case "strings":
      if (typeof value === "string") return [value];
      if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value;
      throw wrongType("string or an array of strings");
  }
}

/**
 * Parses the tokens after the command path into the values `flags` declares. Absent flags get
 * their default (booleans: false); absent flags without one are left out (read as undefined).
 */
export function parseArgs<F extends FlagTable>(tokens: readonly string[], flags: F, positionalSpec: PositionalSpec = { min: 0, max: 0 }): ParsedArgs<F> {
  const positionals: string[] = [];
  const values: Record<string, FlagValue> = {};
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token === "--") {
      positionals.push(...tokens.slice(i + 1));
      break;
    }
    const isFlag = token.startsWith("-") && token !== "-" && !NUMBER.test(token);
    if (!isFlag) {
      positionals.push(token);
      continue;
    }
    if (!token.startsWith("--")) throw unknownFlag(token, flags);
    const eq = token.indexOf("=");
    const name = eq === -1 ? token.slice(2) : token.slice(2, eq);
    const spec = Object.hasOwn(flags, name) ? flags[name] : undefined;
    if (spec === undefined) throw unknownFlag(token, flags);
    if (Object.hasOwn(values, name) && spec.type !== "strings") throw new UsageError(`--${name} given more than once`);
    let raw: string | undefined = eq === -1 ? undefined : token.slice(eq + 1);
    if (spec.type === "boolean") {
      values[name] = raw === undefined ? true : parseValue(name, spec, raw);
      continue;
    }
    if (raw === undefined) {
      const next = tokens[i + 1];
      if (next === undefined || (next.startsWith("--") && next !== "--") || next === "--") {
        throw new UsageError(`--${name} needs a value: ${describeFlagType(spec)}`);
      }
      raw = next;
      i++;
    }
    const value = parseValue(name, spec, raw);
    const earlier = values[name];
    // a repeatable flag collects every occurrence in order
    values[name] = Array.isArray(earlier) && Array.isArray(value) ? [...earlier, ...value] as string[] : value;
  }
  for (const [name, spec] of Object.entries(flags)) {
    if (Object.hasOwn(values, name)) continue;
    if (spec.type === "boolean") values[name] = false;
    else if (spec.type !== "integers" && spec.type !== "strings" && spec.default !== undefined) values[name] = spec.default;
  }
  const n = positionals.length;
  if (n < positionalSpec.min || n > positionalSpec.max) {
    const expected =
      positionalSpec.min === positionalSpec.max
        ? `${positionalSpec.min}`
        : `${positionalSpec.min} to ${positionalSpec.max}`;
    const found = n === 0 ? "none" : `${n} (${positionals.map((p) => JSON.stringify(p)).join(" ")})`;
    throw new UsageError(`expected ${expected} argument${positionalSpec.max === 1 ? "" : "s"}, found ${found}`);
  }
  // Every value above was produced by parseValue from its own spec in `flags` (or is that spec's
  // default), so it has the type FlagValueOf gives that spec: the one place the types are asserted.
  return { positionals, flags: values as FlagValues<F> };
}

/**
 * Flags from the command line over flags from a JSON object (`zllm train --config F`): each key
 * of `json` must be a flag of `flags` (not `exclude`) and its value passes flagValueFromJson. A
 * switch absent from the command line (false) keeps the file's value. `where` starts messages.
 */
export function mergeFlagValues<F extends FlagTable>(
  parsed: FlagValues<F>, flags: F, json: Readonly<Record<string, unknown>>, where: string, exclude: readonly string[] = [],
): FlagValues<F> {
  const fromFile: Record<string, FlagValue> = {};
  for (const [key, value] of Object.entries(json)) {
    const spec = Object.hasOwn(flags, key) ? flags[key] : undefined;
    if (spec === undefined || exclude.includes(key)) throw new UsageError(`${where}: unknown key "${key}"`);
    fromFile[key] = flagValueFromJson(where, key, spec, value);
  }
  const merged: Record<string, FlagValue> = { ...fromFile };
  // FlagValues<F> is a record of FlagValue, which the compiler cannot see for a generic F
  const given: Readonly<Record<string, FlagValue>> = parsed;
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined || (flags[key]?.type === "boolean" && value === false && Object.hasOwn(fromFile, key))) continue;
    merged[key] = value;
  }
  // as in parseArgs: every value was checked against its own spec in `flags`
  return merged as FlagValues<F>;
}
