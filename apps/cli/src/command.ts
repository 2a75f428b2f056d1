/**
 * The contract every `zllm` subcommand follows. A command module exports one `Command`, written
 * with `defineCommand` so that its `run` sees each flag with the type its spec declares;
 * `commands/index.ts` registers it. Subcommands named in issues (`tokenize`, `eval logits`,
 * `bench`, `serve`, …) are a public contract: keep their flags and output stable and documented.
 */

/** A bare switch: `--json` (or `--json=true|false`). Absent means false. */
export interface BooleanFlag {
  type: "boolean";
  description: string;
}

/** `--name VALUE`; with `choices`, one of them (and the value's type is their union). */
export interface StringFlag {
  type: "string";
  description: string;
  default?: string;
  choices?: readonly string[];
}

/** `--name N`, range-checked: [min, max], or an open end where `minExclusive` / `maxExclusive` say so. */
export interface NumberFlag {
  type: "number";
  description: string;
  default?: number;
  integer?: boolean;
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

/**
 * `--name 1,450,9038`: comma-separated integers, each in [min, max] (every entry checked, none
 * empty). `item` names one entry in messages and help ("token id", "prompt length"). No default
 * in the spec (a command applies its own, and says it in the description).
 */
export interface IntegerListFlag {
  type: "integers";
  description: string;
  item: string;
  /** Never set: a command applies a list's default itself (its description says which). */
  default?: never;
  min?: number;
  max?: number;
}

/**
 * `--name VALUE`, repeatable: every occurrence, in order (`--model a --model b` → ["a", "b"]).
 * No default in the spec (a command applies its own, and says it in the description).
 */
export interface StringListFlag {
  type: "strings";
  description: string;
  /** Never set: a command applies a list's default itself (its description says which). */
  default?: never;
}

/** A flag's declared type; parsing turns `--name value` / `--name=value` / `--flag` into its value. */
export type FlagSpec = BooleanFlag | StringFlag | NumberFlag | IntegerListFlag | StringListFlag;

/** A command's flags by name (without dashes). */
export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** `undefined` when a flag may be absent: it has no default (booleans are never absent). */
type Absent<S> = S extends { default: unknown } ? never : undefined;

/**
 * The parsed value of a flag of spec S: boolean for switches; the union of the choices, a string,
 * a number, a string[] (repeatable) or a number[] otherwise, `| undefined` unless the spec has a default. Inferred from
 * the table, so commands read `args.flags.steps` as a number without a cast.
 */
export type FlagValueOf<S extends FlagSpec> = S extends BooleanFlag
  ? boolean
  : S extends { type: "string"; choices: readonly (infer C extends string)[] }
    ? C | Absent<S>
    : S extends StringFlag
      ? string | Absent<S>
      : S extends NumberFlag
        ? number | Absent<S>
        : S extends StringListFlag
          ? string[] | Absent<S>
          : number[] | Absent<S>;

/** The flags that always have a value after parsing: switches, and flags with a default. */
type AlwaysSet<F extends FlagTable> = { [K in keyof F]: F[K] extends BooleanFlag ? K : F[K] extends { default: unknown } ? K : never }[keyof F];

/** Every flag's parsed value, by name; a flag that may be absent is an optional key (it is left out, not set to undefined). */
export type FlagValues<F extends FlagTable> = { -readonly [K in AlwaysSet<F>]: FlagValueOf<F[K]> } & {
  -readonly [K in Exclude<keyof F, AlwaysSet<F>>]?: FlagValueOf<F[K]>;
};

/** Any flag's parsed value (what an untyped table gives). */
export type FlagValue = FlagValueOf<FlagSpec>;

export interface ParsedArgs<F extends FlagTable = FlagTable> {
  /** Positional arguments after the command path. */
  positionals: string[];
  /** Flags by name (without dashes); numbers already parsed and range-checked, defaults filled in. */
  flags: FlagValues<F>;
}

export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Set by `--verbose`: runtime failures print their stack. */
  verbose: boolean;
}

export interface Command<F extends FlagTable = FlagTable> {
  /** Words that select the command, e.g. ["autograd", "demo"] or ["tokenize", "train"]. */
  path: readonly string[];
  summary: string;
  /** Usage line(s) after `zllm`, e.g. "tokenize --vocab NAME|FILE [--file F | TEXT] [--json]". */
  usage: string;
  flags: F;
  /** Inclusive bounds on the number of positionals. */
  positionals?: { min: number; max: number };
  /**
   * Resolves to the exit code (0 ok). Throwing is a runtime failure: exit 1, one line.
   * (Declared as a method: a Command<F> is then also a Command, which `main` runs after parsing
   * with that same table `F`, so the values always have the types F declares.)
   */
  run(args: ParsedArgs<F>, io: CommandIO): Promise<number> | number;
}

/**
 * A command whose `run` sees typed flags: `flags: { steps: { type: "number", default: 100 } }`
 * gives `args.flags.steps: number`, `choices: ["wasm", "js"]` gives `"wasm" | "js" | undefined`.
 * (`const F` keeps the literal types of an inline table.)
 */
export function defineCommand<const F extends FlagTable>(command: Command<F>): Command<F> {
  return command;
}

/** Bad flags or arguments: print usage to stderr and exit 2. */
export class UsageError extends Error {
  readonly code = "CLI_USAGE";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** A runtime failure of the CLI itself (exit 1), with a stable code like the packages' errors. */
export class CliError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CliError";
    this.code = code;
  }
}
