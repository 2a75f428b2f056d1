import { describeDefault, describeFlagType } from "./args";
import type { Command, FlagSpec } from "./command";

/** The text of `zllm --help`, `zllm <group> --help` and `zllm <command> --help`. */

export const GLOBAL_FLAGS: readonly [string, string][] = [
  ["-h, --help", "show help (for one command: zllm <command> --help)"],
  ["-V, --version", "print the version"],
  ["--verbose", "print the stack trace of a runtime failure"],
];

const EXIT_CODES = "Exit codes: 0 success, 1 runtime failure, 2 usage error (unknown command, bad flag or argument).";

function table(rows: readonly [string, string][]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
}

function flagLabel(name: string, spec: FlagSpec): string {
  if (spec.type === "boolean") return `--${name}`;
  return `--${name} ${spec.type === "number" ? "N" : spec.type === "integers" ? "N,N,..." : "VALUE"}`;
}

function flagDescription(spec: FlagSpec): string {
  if (spec.type === "boolean") return spec.description;
  const parts = [describeFlagType(spec)];
  const byDefault = describeDefault(spec);
  if (byDefault !== undefined) parts.push(`default ${byDefault}`);
  return `${spec.description} (${parts.join("; ")})`;
}

export function generalHelp(commands: readonly Command[], version: string): string {
  return [
    `zllm ${version}: every zero-llm capability from the terminal.`,
    "",
    "Usage: zllm <command> [flags]",
    "",
    "Commands:",
    ...table(commands.map((c) => [c.path.join(" "), c.summary])),
    "",
    "Global flags:",
    ...table(GLOBAL_FLAGS),
    "",
    EXIT_CODES,
    "",
  ].join("\n");
}

/** For a command-path prefix such as `autograd` that names a group of commands. */
export function groupHelp(group: readonly string[], commands: readonly Command[]): string {
  const members = commands.filter((c) => group.every((word, i) => c.path[i] === word));
  return [
    `Usage: zllm ${group.join(" ")} <command> [flags]`,
    "",
    "Commands:",
    ...table(members.map((c) => [c.path.join(" "), c.summary])),
    "",
    `Run 'zllm <command> --help' for a command's flags.`,
    "",
  ].join("\n");
}

export function commandUsage(command: Command): string {
  return `Usage: zllm ${command.usage}`;
}

export function commandHelp(command: Command): string {
  const flagRows = Object.entries(command.flags).map(([name, spec]): [string, string] => [flagLabel(name, spec), flagDescription(spec)]);
  return [
    commandUsage(command),
    "",
    command.summary,
    "",
    ...(flagRows.length > 0 ? ["Flags:", ...table(flagRows), ""] : []),
    "Global flags:",
    ...table(GLOBAL_FLAGS.filter(([left]) => !left.includes("--version"))),
    "",
    EXIT_CODES,
    "",
  ].join("\n");
}
