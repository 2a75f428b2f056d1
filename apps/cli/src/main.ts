import packageJson from "../package.json";
import { parseArgs } from "./args";
import { UsageError, type Command, type CommandIO } from "./command";
import { COMMANDS } from "./commands/index";
import { commandHelp, commandUsage, generalHelp, groupHelp } from "./help";

/**
 * `zllm` as a function: parse argv, pick the command, run it, and turn every outcome into an exit
 * code. Nothing here calls process.exit, so tests drive it with fake streams.
 *
 * - usage errors (unknown command, bad flag, wrong number of arguments): "zllm: <message>" and
 *   the relevant usage on stderr, exit 2;
 * - runtime failures (anything else a command throws): one line "zllm: <message>" on stderr
 *   (with the error's `code` when it has one), exit 1; the stack only with --verbose.
 */

export const VERSION: string = packageJson.version;

export type MainIO = Pick<CommandIO, "stdout" | "stderr">;

const HELP = new Set(["--help", "-h"]);
const VERSION_FLAGS = new Set(["--version", "-V"]);

function write(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.endsWith("\n") ? text : `${text}\n`);
}

function isPrefix(prefix: readonly string[], path: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((word, i) => path[i] === word);
}

/** One line for a runtime failure: the message, and the error's stable code if it has one. */
function describeFailure(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = error.message.split("\n")[0];
    return typeof code === "string" && !message.includes(code) ? `${message} (${code})` : message;
  }
  return String(error);
}

export async function main(argv: readonly string[], io: MainIO, commands: readonly Command[] = COMMANDS): Promise<number> {
  const endOfFlags = argv.indexOf("--");
  const beforeEnd = endOfFlags === -1 ? argv : argv.slice(0, endOfFlags);
  const verbose = beforeEnd.includes("--verbose");
  const wantsHelp = beforeEnd.some((t) => HELP.has(t));
  const usageFailure = (message: string, usage: string): number => {
    write(io.stderr, `zllm: ${message}\n\n${usage}`);
    return 2;
  };

  // The command path: leading words (global flags may come first) while they extend a known path.
  let path: string[] = [];
  let i = 0;
  let sawVersion = false;
  for (; i < argv.length; i++) {
    const token = argv[i];
    if (token === "--verbose" || HELP.has(token)) continue;
    if (VERSION_FLAGS.has(token)) {
      sawVersion = true;
      continue;
    }
    if (token.startsWith("-") || !commands.some((c) => isPrefix([...path, token], c.path))) break;
    path = [...path, token];
  }
  const command = commands.find((c) => c.path.length === path.length && isPrefix(path, c.path));
  if (sawVersion && !wantsHelp) {
    // --version stands alone: anything else beside it (a word, a flag) was meant for something else
    const stray = argv.find((t) => !VERSION_FLAGS.has(t) && t !== "--verbose");
    if (stray !== undefined) return usageFailure(`--version takes no arguments, found ${JSON.stringify(stray)}`, generalHelp(commands, VERSION));
    write(io.stdout, `zllm ${VERSION}`);
    return 0;
  }

  if (command === undefined) {
    if (path.length === 0) {
      const next = argv[i];
      if (wantsHelp && next === undefined) {
        write(io.stdout, generalHelp(commands, VERSION));
        return 0;
      }
      if (next === undefined) return usageFailure("missing command", generalHelp(commands, VERSION));
      if (next.startsWith("-")) return usageFailure(`unknown flag ${next.split("=")[0]}`, generalHelp(commands, VERSION));
      return usageFailure(`unknown command '${next}'`, generalHelp(commands, VERSION));
    }
    // A group such as `autograd`: list its commands.
    const next = argv[i];
    if (wantsHelp) {
      write(io.stdout, groupHelp(path, commands));
      return 0;
    }
    const message =
      next === undefined || next.startsWith("-")
        ? `'${path.join(" ")}' needs a subcommand`
        : `unknown command '${[...path, next].join(" ")}'`;
    return usageFailure(message, groupHelp(path, commands));
  }

  if (wantsHelp) {
    write(io.stdout, commandHelp(command));
    return 0;
  }

  // Everything after the command path except the global flags goes to the command's parser.
  const rest = argv.slice(i).filter((t, k) => (endOfFlags !== -1 && i + k > endOfFlags) || t !== "--verbose");
  const usage = `${commandUsage(command)}\nRun 'zllm ${command.path.join(" ")} --help' for the flags.`;
  try {
    const args = parseArgs(rest, command.flags, command.positionals);
    return await command.run(args, { stdout: io.stdout, stderr: io.stderr, verbose });
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(error.message, usage);
    write(io.stderr, `zllm: ${describeFailure(error)}`);
    if (verbose && error instanceof Error && error.stack) write(io.stderr, error.stack);
    return 1;
  }
}
