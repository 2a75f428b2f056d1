import { describe, expect, it } from "vitest";
import { parseArgs } from "../src/args";
import { UsageError, type FlagSpec } from "../src/command";

const flags: Record<string, FlagSpec> = {
  steps: { type: "number", description: "", integer: true, min: 1, max: 100, default: 10 },
  lr: { type: "number", description: "", min: 0 },
  shift: { type: "number", description: "" },
  init: { type: "string", description: "", choices: ["a", "b"], default: "a" },
  name: { type: "string", description: "" },
  json: { type: "boolean", description: "" },
};

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).code).toBe("CLI_USAGE");
    return (e as UsageError).message;
  }
  throw new Error("expected a UsageError");
}

describe("parseArgs", () => {
  it("reads --name value, --name=value and bare booleans; fills defaults", () => {
    expect(parseArgs(["--steps", "5", "--lr=0.5", "--json", "--name", "x y"], flags)).toEqual({
      positionals: [],
      flags: { steps: 5, lr: 0.5, json: true, name: "x y", init: "a" },
    });
    expect(parseArgs([], flags).flags).toEqual({ steps: 10, init: "a", json: false });
    expect(parseArgs(["--json=false"], flags).flags.json).toBe(false);
  });

  it("accepts negative numbers as values and as positionals; -- ends the flags", () => {
    expect(parseArgs(["--shift", "-2.5e-1"], flags).flags.shift).toBe(-0.25);
    expect(parseArgs(["-3", "--", "--json", "-x"], flags, { min: 0, max: 5 }).positionals).toEqual(["-3", "--json", "-x"]);
    expect(parseArgs(["-"], flags, { min: 1, max: 1 }).positionals).toEqual(["-"]);
  });

  it("unknown flags are usage errors, with a suggestion when one is close", () => {
    expect(usageError(() => parseArgs(["--stpes", "3"], flags))).toBe("unknown flag --stpes (did you mean --steps?)");
    expect(usageError(() => parseArgs(["--zzz=1"], flags))).toBe("unknown flag --zzz");
    expect(usageError(() => parseArgs(["-s"], flags))).toBe("unknown flag -s");
    expect(usageError(() => parseArgs(["--constructor"], flags))).toBe("unknown flag --constructor");
  });

  it("missing values, bad numbers and out-of-range values say what was expected and found", () => {
    expect(usageError(() => parseArgs(["--steps"], flags))).toBe("--steps needs a value: an integer in [1, 100]");
    expect(usageError(() => parseArgs(["--steps", "--json"], flags))).toBe("--steps needs a value: an integer in [1, 100]");
    expect(usageError(() => parseArgs(["--steps", "ten"], flags))).toBe('--steps must be an integer in [1, 100], found "ten"');
    expect(usageError(() => parseArgs(["--steps", "2.5"], flags))).toBe('--steps must be an integer in [1, 100], found "2.5"');
    expect(usageError(() => parseArgs(["--steps=0"], flags))).toBe('--steps must be an integer in [1, 100], found "0"');
    expect(usageError(() => parseArgs(["--steps", "101"], flags))).toMatch(/found "101"/);
    expect(usageError(() => parseArgs(["--lr", "-1"], flags))).toBe('--lr must be a number ≥ 0, found "-1"');
    for (const bad of ["", "0x10", "Infinity", "NaN", "1e999", "1,5"]) {
      expect(usageError(() => parseArgs([`--shift=${bad}`], flags))).toMatch(/--shift must be a number/);
    }
    expect(usageError(() => parseArgs(["--init", "c"], flags))).toBe('--init must be one of a, b, found "c"');
    expect(usageError(() => parseArgs(["--json=yes"], flags))).toBe('--json takes no value (or =true / =false), found "yes"');
    expect(usageError(() => parseArgs(["--steps", "2", "--steps", "3"], flags))).toBe("--steps given more than once");
  });

  it("checks the number of positionals", () => {
    expect(usageError(() => parseArgs(["extra"], flags))).toBe('expected 0 arguments, found 1 ("extra")');
    expect(usageError(() => parseArgs([], flags, { min: 1, max: 1 }))).toBe("expected 1 argument, found none");
    expect(usageError(() => parseArgs(["a", "b", "c"], flags, { min: 1, max: 2 }))).toBe('expected 1 to 2 arguments, found 3 ("a" "b" "c")');
  });
});
