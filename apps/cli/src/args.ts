import { UsageError, type FlagSpec, type FlagValue, type ParsedArgs } from "./command";

/**
 * The flag parser every command shares. It accepts `--name value`, `--name=value`, a bare
 * `--flag` for booleans (or `--flag=true|false`), and `--` to end the flags. Anything that does
 * not fit a command's FlagSpec is a UsageError, whose message says what was expected and found.
 */

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export interface PositionalSpec {
  min: number;
  max: number;
}

/** "an integer in [1, 100000]", "a number ≥ 0", "one of a, b, c": the words used in messages and help. */
export function describeFlagType(spec: FlagSpec): string {
  switch (spec.type) {
    case "boolean":
      return "no value";
    case "string":
      return spec.choices ? `one of ${spec.choices.join(", ")}` : "a string";
    case "number": {
      const kind = spec.integer ? "an integer" : "a number";
      if (spec.min !== undefined && spec.max !== undefined) return `${kind} in [${spec.min}, ${spec.max}]`;
      if (spec.min !== undefined) return `${kind} ≥ ${spec.min}`;
      if (spec.max !== undefined) return `${kind} ≤ ${spec.max}`;
      return kind;
    }
  }
}

/** Edit distance counting a swap of neighbours as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The unknown flag's message, suggesting the closest known flag when a typo is likely. */
function unknownFlag(token: string, flags: Readonly<Record<string, FlagSpec>>): UsageError {
  const shown = token.split("=")[0]!;
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
      const ok =
        Number.isFinite(value) &&
        (!spec.integer || Number.isInteger(value)) &&
        (spec.min === undefined || value >= spec.min) &&
        (spec.max === undefined || value <= spec.max);
      if (!ok) throw new UsageError(`--${name} must be ${describeFlagType(spec)}, found "${raw}"`);
      return value;
    }
  }
}

/** Parses the tokens after the command path. Absent flags get their default (booleans: false). */
export function parseArgs(
  tokens: readonly string[],
  flags: Readonly<Record<string, FlagSpec>>,
  positionalSpec: PositionalSpec = { min: 0, max: 0 },
): ParsedArgs {
  const parsed: ParsedArgs = { positionals: [], flags: {} };
  const seen = new Set<string>();
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token === "--") {
      parsed.positionals.push(...tokens.slice(i + 1));
      break;
    }
    const isFlag = token.startsWith("-") && token !== "-" && !NUMBER.test(token);
    if (!isFlag) {
      parsed.positionals.push(token);
      continue;
    }
    if (!token.startsWith("--")) throw unknownFlag(token, flags);
    const eq = token.indexOf("=");
    const name = eq === -1 ? token.slice(2) : token.slice(2, eq);
    const spec = Object.hasOwn(flags, name) ? flags[name] : undefined;
    if (spec === undefined) throw unknownFlag(token, flags);
    const repeatable = spec.type === "string" && spec.repeatable === true;
    if (seen.has(name) && !repeatable) throw new UsageError(`--${name} given more than once`);
    seen.add(name);
    let raw: string | undefined = eq === -1 ? undefined : token.slice(eq + 1);
    if (spec.type === "boolean") {
      parsed.flags[name] = raw === undefined ? true : parseValue(name, spec, raw);
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
    if (repeatable) {
      parsed.repeated ??= {};
      (parsed.repeated[name] ??= []).push(value as string);
      parsed.flags[name] ??= value;
    } else parsed.flags[name] = value;
  }
  for (const [name, spec] of Object.entries(flags)) {
    if (name in parsed.flags) continue;
    if (spec.type === "boolean") parsed.flags[name] = false;
    else if (spec.default !== undefined) parsed.flags[name] = spec.default;
  }
  const n = parsed.positionals.length;
  if (n < positionalSpec.min || n > positionalSpec.max) {
    const expected =
      positionalSpec.min === positionalSpec.max
        ? `${positionalSpec.min}`
        : `${positionalSpec.min} to ${positionalSpec.max}`;
    const found = n === 0 ? "none" : `${n} (${parsed.positionals.map((p) => JSON.stringify(p)).join(" ")})`;
    throw new UsageError(`expected ${expected} argument${positionalSpec.max === 1 ? "" : "s"}, found ${found}`);
  }
  return parsed;
}
