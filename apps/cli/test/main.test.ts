import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseArgs } from "../src/args";
import type { Command } from "../src/command";
import { UsageError } from "../src/command";
import { COMMANDS } from "../src/commands/index";
import { runCli } from "./helpers";

const version = (JSON.parse(readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8")) as { version: string }).version;

/** Test commands, so dispatch is tested apart from the real commands' work. */
const echo: Command = {
  path: ["tool", "echo"],
  summary: "print the arguments",
  usage: "tool echo [--times N] [--upper] WORD...",
  flags: {
    times: { type: "number", description: "repeat", integer: true, min: 1, max: 3, default: 1 },
    upper: { type: "boolean", description: "upper-case" },
  },
  positionals: { min: 1, max: 5 },
  run(args, io) {
    const text = args.positionals.join(" ");
    for (let i = 0; i < (args.flags.times as number); i++) io.stdout.write(`${args.flags.upper ? text.toUpperCase() : text}\n`);
    return 0;
  },
};
const fail: Command = {
  path: ["tool", "fail"],
  summary: "always fails",
  usage: "tool fail [--usage]",
  flags: { usage: { type: "boolean", description: "fail with a usage error instead" } },
  run(args) {
    if (args.flags.usage) throw new UsageError("that combination is not allowed");
    const error = new Error("the model file is truncated: expected 1024 bytes, found 10\nsecond line");
    (error as Error & { code: string }).code = "GGUF_TRUNCATED";
    throw error;
  },
};
const top: Command = { path: ["top"], summary: "a one-word command", usage: "top", flags: {}, run: async () => 3 };
const commands = [echo, fail, top];

describe("zllm dispatch", () => {
  it("--help and -h print the command list to stdout, exit 0", async () => {
    for (const flag of ["--help", "-h"]) {
      const r = await runCli([flag], commands);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("Usage: zllm <command> [flags]");
      expect(r.stdout).toContain("tool echo  print the arguments");
      expect(r.stdout).toContain("Exit codes: 0 success, 1 runtime failure, 2 usage error");
      expect(r.stderr).toBe("");
    }
  });

  it("--version and -V print the CLI package version", async () => {
    expect(await runCli(["--version"])).toEqual({ code: 0, stdout: `zllm ${version}\n`, stderr: "" });
    expect((await runCli(["-V"])).stdout).toBe(`zllm ${version}\n`);
    expect((await runCli(["--verbose", "--version"])).code).toBe(0);
  });

  it("--version with anything else beside it is a usage error (exit 2), not a silent version", async () => {
    const cases: [string[], string][] = [
      [["--version", "extra"], '--version takes no arguments, found "extra"'],
      [["--version", "--bogus"], '--version takes no arguments, found "--bogus"'],
      [["-V", "tool", "echo", "x"], '--version takes no arguments, found "tool"'],
    ];
    for (const [argv, message] of cases) {
      const r = await runCli(argv, commands);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.split("\n")[0]).toBe(`zllm: ${message}`);
    }
  });

  it("no command, an unknown command or an unknown global flag: usage on stderr, exit 2", async () => {
    const none = await runCli([], commands);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^zllm: missing command\n\nzllm .*\n\nUsage: zllm <command>/);
    expect(none.stdout).toBe("");
    const unknown = await runCli(["trian", "--steps", "3"], commands);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^zllm: unknown command 'trian'\n/);
    const flag = await runCli(["--frobnicate"], commands);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/^zllm: unknown flag --frobnicate\n/);
  });

  it("a group name lists its commands: with --help on stdout (0), without on stderr (2)", async () => {
    const help = await runCli(["tool", "--help"], commands);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: zllm tool <command> [flags]");
    expect(help.stdout).toContain("tool fail");
    expect(help.stdout).not.toContain("top");
    const bare = await runCli(["tool"], commands);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^zllm: 'tool' needs a subcommand\n\nUsage: zllm tool <command>/);
    const wrong = await runCli(["tool", "ehco"], commands);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^zllm: unknown command 'tool ehco'/);
  });

  it("runs a command with parsed flags and positionals; its return value is the exit code", async () => {
    expect(await runCli(["tool", "echo", "--times", "2", "hi", "there", "--upper"], commands)).toEqual({
      code: 0,
      stdout: "HI THERE\nHI THERE\n",
      stderr: "",
    });
    expect(await runCli(["--verbose", "tool", "echo", "x"], commands)).toMatchObject({ code: 0, stdout: "x\n" });
    expect(await runCli(["tool", "echo", "--", "--verbose"], commands)).toMatchObject({ code: 0, stdout: "--verbose\n" });
    expect((await runCli(["top"], commands)).code).toBe(3);
  });

  it("per-command --help shows usage, flags with types and defaults, exit 0 (even beside bad flags)", async () => {
    const r = await runCli(["tool", "echo", "--times", "9", "--help"], commands);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: zllm tool echo [--times N] [--upper] WORD...");
    expect(r.stdout).toMatch(/--times N\s+repeat \(an integer in \[1, 3\]; default 1\)/);
    expect(r.stdout).toMatch(/--upper\s+upper-case/);
  });

  it("bad flags and arguments: the message and the command's usage on stderr, exit 2", async () => {
    const cases: [string[], string][] = [
      [["tool", "echo", "--times", "9", "x"], '--times must be an integer in [1, 3], found "9"'],
      [["tool", "echo", "--times"], "--times needs a value: an integer in [1, 3]"],
      [["tool", "echo", "--tims", "2", "x"], "unknown flag --tims (did you mean --times?)"],
      [["tool", "echo"], "expected 1 to 5 arguments, found none"],
      [["tool", "echo", "x", "--version"], "unknown flag --version"],
      [["tool", "fail", "--usage"], "that combination is not allowed"],
    ];
    for (const [argv, message] of cases) {
      const r = await runCli(argv, commands);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(`zllm: ${message}\n\nUsage: zllm ${argv[1] === "echo" ? echo.usage : fail.usage}\nRun 'zllm tool ${argv[1]} --help' for the flags.\n`);
    }
  });

  it("a runtime failure is one line with the error's code, exit 1; --verbose adds the stack", async () => {
    const r = await runCli(["tool", "fail"], commands);
    expect(r).toEqual({ code: 1, stdout: "", stderr: "zllm: the model file is truncated: expected 1024 bytes, found 10 (GGUF_TRUNCATED)\n" });
    const v = await runCli(["tool", "fail", "--verbose"], commands);
    expect(v.code).toBe(1);
    expect(v.stderr.split("\n")[0]).toBe("zllm: the model file is truncated: expected 1024 bytes, found 10 (GGUF_TRUNCATED)");
    expect(v.stderr).toMatch(/\n {4}at /);
  });
});

describe("the registry", () => {
  it("paths are unique, no path is another's flag-less twin, and no command shadows a global flag", () => {
    const keys = COMMANDS.map((c) => c.path.join(" "));
    expect(new Set(keys).size).toBe(keys.length);
    for (const c of COMMANDS) {
      expect(c.path.length).toBeGreaterThan(0);
      for (const name of Object.keys(c.flags)) expect(["help", "h", "verbose", "version", "V"]).not.toContain(name);
      expect(c.usage.startsWith(c.path.join(" "))).toBe(true);
    }
  });

  it("every declared default satisfies its own flag spec", () => {
    for (const c of COMMANDS) {
      const parsed = parseArgs([], c.flags, { min: 0, max: Math.max(0, c.positionals?.max ?? 0) });
      for (const [name, spec] of Object.entries(c.flags)) {
        if (spec.type === "boolean" || spec.default === undefined) continue;
        expect(parseArgs([`--${name}=${spec.default}`], c.flags, { min: 0, max: 99 }).flags[name]).toBe(parsed.flags[name]);
      }
    }
  });
});
