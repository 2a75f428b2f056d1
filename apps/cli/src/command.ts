/**
 * The contract every `zllm` subcommand follows. A command module exports one `Command`;
 * `cli.ts` registers it. Subcommands named in issues (`tokenize`, `eval logits`, `bench`,
 * `serve`, …) are a public contract: keep their flags and output stable and documented.
 */

/** A flag's declared type; parsing turns `--name value` / `--name=value` / `--flag` into these. */
export type FlagSpec =
  | { type: "boolean"; description: string }
  | { type: "string"; description: string; default?: string; choices?: readonly string[]; repeatable?: boolean }
  | { type: "number"; description: string; default?: number; integer?: boolean; min?: number; max?: number };

export type FlagValue = string | number | boolean | undefined;

export interface ParsedArgs {
  /** Positional arguments after the command path. */
  positionals: string[];
  /** Flags by name (without dashes); numbers already parsed and range-checked. */
  flags: Record<string, FlagValue>;
  /** Every value of a `repeatable` string flag, in order (`--model a --model b`); flags[name] holds the first. */
  repeated?: Record<string, string[]>;
}

export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Set by `--verbose`: runtime failures print their stack. */
  verbose: boolean;
}

export interface Command {
  /** Words that select the command, e.g. ["autograd", "demo"] or ["tokenize", "train"]. */
  path: readonly string[];
  summary: string;
  /** Usage line(s) after `zllm`, e.g. "tokenize --vocab NAME|FILE [--file F | TEXT] [--json]". */
  usage: string;
  flags: Readonly<Record<string, FlagSpec>>;
  /** Inclusive bounds on the number of positionals. */
  positionals?: { min: number; max: number };
  /** Resolves to the exit code (0 ok). Throwing is a runtime failure: exit 1, one line. */
  run(args: ParsedArgs, io: CommandIO): Promise<number> | number;
}

/** Bad flags or arguments: print usage to stderr and exit 2. */
export class UsageError extends Error {
  readonly code = "CLI_USAGE";
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A runtime failure of the CLI itself (exit 1), with a stable code like the packages' errors. */
export class CliError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "CliError";
    this.code = code;
  }
}
