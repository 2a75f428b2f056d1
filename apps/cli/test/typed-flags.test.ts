// Typed flags: defineCommand infers each flag's value type from its spec (checked by the compiler
// through expectTypeOf, and at run time through the parser), list and open-range flags, and the
// values of a --config file checked like command-line ones.
import { describe, expect, expectTypeOf, it } from "vitest";
import { describeFlagType, flagValueFromJson, mergeFlagValues, parseArgs } from "../src/args";
import { UsageError, defineCommand, type FlagTable, type ParsedArgs } from "../src/command";
import { commandHelp } from "../src/help";
import { runCli } from "./helpers";

const FLAGS = {
  steps: { type: "number", description: "steps", integer: true, min: 1, max: 100, default: 10 },
  lr: { type: "number", description: "rate", min: 0, minExclusive: true },
  share: { type: "number", description: "share", min: 0, max: 1, minExclusive: true, maxExclusive: true },
  backend: { type: "string", description: "kernels", choices: ["wasm", "js"] },
  init: { type: "string", description: "init", choices: ["a", "b"], default: "a" },
  name: { type: "string", description: "a name" },
  ids: { type: "integers", description: "ids", item: "token id", min: 0 },
  lengths: { type: "integers", description: "lengths", item: "prompt length", min: 1, max: 4096 },
  json: { type: "boolean", description: "json" },
} as const satisfies FlagTable;

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as UsageError).message;
  }
  throw new Error("expected a UsageError");
}

describe("defineCommand infers the flag values' types from the table", () => {
  it("numbers, choices, strings, lists and switches, optional unless defaulted", () => {
    const command = defineCommand({
      path: ["t"],
      summary: "",
      usage: "t",
      flags: FLAGS,
      run(args) {
        expectTypeOf(args.flags.steps).toEqualTypeOf<number>();
        expectTypeOf(args.flags.lr).toEqualTypeOf<number | undefined>();
        expectTypeOf(args.flags.backend).toEqualTypeOf<"wasm" | "js" | undefined>();
        expectTypeOf(args.flags.init).toEqualTypeOf<"a" | "b">();
        expectTypeOf(args.flags.name).toEqualTypeOf<string | undefined>();
        expectTypeOf(args.flags.ids).toEqualTypeOf<number[] | undefined>();
        expectTypeOf(args.flags.json).toEqualTypeOf<boolean>();
        return 0;
      },
    });
    expectTypeOf(command.run).parameter(0).toEqualTypeOf<ParsedArgs<typeof FLAGS>>();
    // an inline table keeps its literal choices too
    defineCommand({
      path: ["u"],
      summary: "",
      usage: "u",
      flags: { arch: { type: "string", description: "", choices: ["llama", "gpt2"] } },
      run(args) {
        expectTypeOf(args.flags.arch).toEqualTypeOf<"llama" | "gpt2" | undefined>();
        return 0;
      },
    });
  });

  it("the parser gives those values", () => {
    const parsed = parseArgs(["--lr", "0.5", "--backend", "js", "--ids", "1, 450,9038", "--lengths=16", "--json"], FLAGS);
    expect(parsed.flags).toEqual({ steps: 10, lr: 0.5, backend: "js", init: "a", ids: [1, 450, 9038], lengths: [16], json: true });
  });
});

describe("list flags (comma-separated integers)", () => {
  it("refuse an empty entry, a non-integer and a value out of range, naming the entry", () => {
    expect(usageError(() => parseArgs(["--ids", "1,,2"], FLAGS))).toBe('--ids: expected a non-negative integer token id between every two commas, found an empty entry in "1,,2"');
    expect(usageError(() => parseArgs(["--ids", "1,2,"], FLAGS))).toBe('--ids: expected a non-negative integer token id between every two commas, found an empty entry in "1,2,"');
    expect(usageError(() => parseArgs(["--ids", "3,x"], FLAGS))).toBe('--ids: expected a non-negative integer token id, found "x"');
    expect(usageError(() => parseArgs(["--ids", "1.5"], FLAGS))).toBe('--ids: expected a non-negative integer token id, found "1.5"');
    expect(usageError(() => parseArgs(["--ids", "99999999999999999999"], FLAGS))).toMatch(/found "99999999999999999999"$/);
    expect(usageError(() => parseArgs(["--ids="], FLAGS))).toBe('--ids: expected comma-separated token ids, found ""');
    expect(usageError(() => parseArgs(["--lengths", "abc"], FLAGS))).toBe('--lengths: expected an integer prompt length in [1, 4096], found "abc"');
    expect(usageError(() => parseArgs(["--lengths", "0"], FLAGS))).toBe('--lengths: expected an integer prompt length in [1, 4096], found "0"');
    expect(usageError(() => parseArgs(["--lengths", "8,4097"], FLAGS))).toBe('--lengths: expected an integer prompt length in [1, 4096], found "4097"');
  });

  it("help shows them as lists with their range", () => {
    expect(describeFlagType(FLAGS.lengths)).toBe("comma-separated prompt lengths, each an integer in [1, 4096]");
    expect(describeFlagType(FLAGS.ids)).toBe("comma-separated token ids, each an integer ≥ 0");
    const help = commandHelp(defineCommand({ path: ["t"], summary: "s", usage: "t", flags: FLAGS, run: () => 0 }));
    expect(help).toMatch(/--lengths N,N,\.\.\. +lengths \(comma-separated prompt lengths, each an integer in \[1, 4096\]\)/);
  });
});

describe("open ranges", () => {
  it("(0, 1) refuses both ends and says so in the message and in help", () => {
    expect(describeFlagType(FLAGS.share)).toBe("a number in (0, 1)");
    expect(describeFlagType(FLAGS.lr)).toBe("a number > 0");
    for (const bad of ["0", "1", "-0.1", "1.5"]) expect(usageError(() => parseArgs(["--share", bad], FLAGS))).toBe(`--share must be a number in (0, 1), found "${bad}"`);
    expect(parseArgs(["--share", "0.5"], FLAGS).flags.share).toBe(0.5);
    expect(usageError(() => parseArgs(["--lr", "0"], FLAGS))).toBe('--lr must be a number > 0, found "0"');
    expect(describeFlagType({ type: "number", description: "", max: 1, maxExclusive: true })).toBe("a number < 1");
    expect(describeFlagType({ type: "number", description: "", min: 0, max: 1, maxExclusive: true })).toBe("a number in [0, 1)");
  });
});

describe("values from a JSON file", () => {
  it("must have the flag's JSON type and pass its range and choices", () => {
    const where = "--config c.json";
    expect(flagValueFromJson(where, "steps", FLAGS.steps, 5)).toBe(5);
    expect(flagValueFromJson(where, "ids", FLAGS.ids, [1, 2])).toEqual([1, 2]);
    expect(flagValueFromJson(where, "ids", FLAGS.ids, "1,2")).toEqual([1, 2]);
    expect(usageError(() => flagValueFromJson(where, "steps", FLAGS.steps, "5"))).toBe('--config c.json: "steps" must be a number, found "5"');
    expect(usageError(() => flagValueFromJson(where, "steps", FLAGS.steps, 0))).toBe('--config c.json: "steps" must be an integer in [1, 100], found 0');
    expect(usageError(() => flagValueFromJson(where, "share", FLAGS.share, 1))).toBe('--config c.json: "share" must be a number in (0, 1), found 1');
    expect(usageError(() => flagValueFromJson(where, "backend", FLAGS.backend, "cuda"))).toBe('--config c.json: "backend" must be one of wasm, js, found "cuda"');
    expect(usageError(() => flagValueFromJson(where, "json", FLAGS.json, "yes"))).toBe('--config c.json: "json" must be a boolean, found "yes"');
    expect(usageError(() => flagValueFromJson(where, "ids", FLAGS.ids, [1, -2]))).toBe('--config c.json: "ids" must be comma-separated token ids, each an integer ≥ 0, found [1,-2]');
  });

  it("the command line wins over the file; a switch absent from the command line keeps the file's value", () => {
    const parsed = parseArgs(["--lr", "0.5"], FLAGS).flags;
    const merged = mergeFlagValues(parsed, FLAGS, { lr: 0.1, name: "from-file", json: true }, "--config c.json");
    expect(merged).toEqual({ steps: 10, lr: 0.5, init: "a", name: "from-file", json: true });
    expect(usageError(() => mergeFlagValues(parsed, FLAGS, { nope: 1 }, "--config c.json"))).toBe('--config c.json: unknown key "nope"');
    expect(usageError(() => mergeFlagValues(parsed, FLAGS, { name: "x" }, "--config c.json", ["name"]))).toBe('--config c.json: unknown key "name"');
  });
});

describe("flags of the real commands", () => {
  it("--tokens 1,,2 is refused, not read as 1,2 (eval logits and generate --ids)", async () => {
    const logits = await runCli(["eval", "logits", "--tokens", "1,,2"]);
    expect(logits.code).toBe(2);
    expect(logits.stderr.split("\n")[0]).toBe('zllm: --tokens: expected a non-negative integer token id between every two commas, found an empty entry in "1,,2"');
    const ids = await runCli(["generate", "--ids", "5,", "--max-tokens", "1"]);
    expect(ids.code).toBe(2);
    expect(ids.stderr.split("\n")[0]).toBe('zllm: --ids: expected a non-negative integer token id between every two commas, found an empty entry in "5,"');
  });
});
