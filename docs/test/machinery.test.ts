// The runner itself: each way a chapter can drift from the code must make a test fail.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareOutput } from "../src/compare";
import { fences, headings, links, slug } from "../src/markdown";
import { REPO_ROOT, SNIPPET_DIR } from "../src/guide";
import { runGroup } from "../src/run";
import { chapterSnippets, excerptFound, missingRequirements } from "../src/snippets";
import { withOutputs } from "../src/update";

const tick = "```";
const chapter = (...lines: string[]): string => lines.join("\n");

describe("markdown", () => {
  it("finds fences with their info string and line numbers, indented ones included", () => {
    const md = chapter("# T", "", `${tick}ts run continue`, "a();", tick, "", "1. item", "", `   ~~~text output timing`, "   x 1", "   ~~~");
    const [a, b] = fences(md);
    expect([a.lang, [...a.attrs.keys()], a.lines, a.openLine, a.closeLine]).toEqual(["ts", ["run", "continue"], ["a();"], 3, 5]);
    expect([b.lang, [...b.attrs.keys()], b.lines, b.openLine]).toEqual(["text", ["output", "timing"], ["x 1"], 9]);
  });

  it("makes GitHub's anchors, duplicates numbered", () => {
    expect(slug("1. Gradients: sensitivity, blame, and the `Value` engine")).toBe("1-gradients-sensitivity-blame-and-the-value-engine");
    expect(slug("Xavier vs. Kaiming (He)")).toBe("xavier-vs-kaiming-he");
    expect(headings("# A\n## A\n```\n# not a heading\n```\n## A").map((h) => h.anchor)).toEqual(["a", "a-1", "a-2"]);
  });

  it("finds links in prose only", () => {
    const md = chapter("See [the `Value` page](../x.md#top) and `[not](a link)`.", tick, "[no](link.md)", tick);
    expect(links(md)).toEqual([{ text: "the `Value` page", target: "../x.md#top", line: 1 }]);
  });
});

describe("snippet structure", () => {
  it("rejects a ts block that neither runs nor cites a source, an orphan output block and a stray continue", () => {
    const md = chapter(`${tick}ts`, "x;", tick, `${tick}text output`, "1", tick, `${tick}ts run continue`, "y;", tick);
    const { problems } = chapterSnippets("c.md", md);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/c\.md:1: a ts block must be a program/);
    expect(problems[1]).toMatch(/c\.md:4: an output block must come right after a `run` block/);
    expect(problems[2]).toMatch(/c\.md:7: `continue` with no program before it/);
  });

  it("groups continue parts into one program with one output block each", () => {
    const md = chapter(`${tick}ts run`, "1;", tick, `${tick}text output`, "a", tick, "prose", `${tick}ts run continue`, "2;", tick, `${tick}ts run`, "3;", tick);
    const { groups, problems } = chapterSnippets("docs/guide/07-x.md", md);
    expect(problems).toEqual([]);
    expect(groups.map((g) => [g.id, g.parts.length, g.parts.map((p) => p.output?.lines ?? null)])).toEqual([
      ["07-x-L1", 2, [["a"], null]],
      ["07-x-L11", 1, [null]],
    ]);
  });

  it("collects the reference files a program requires, and names the ones that are absent", () => {
    const md = chapter(`${tick}ts run requires=pnpm-workspace.yaml`, "a();", tick, `${tick}ts run continue requires=../no-such-dir/vocab.bin,docs/README.md`, "b();", tick, `${tick}ts run`, "c();", tick);
    const { groups, problems } = chapterSnippets("c.md", md);
    expect(problems).toEqual([]);
    expect(groups.map((g) => g.requires)).toEqual([["pnpm-workspace.yaml", "../no-such-dir/vocab.bin", "docs/README.md"], []]);
    expect(groups.map((g) => missingRequirements(g, REPO_ROOT))).toEqual([["../no-such-dir/vocab.bin"], []]);
    expect(chapterSnippets("c.md", chapter(`${tick}ts run requires`, "a();", tick)).problems).toEqual(["c.md:1: `requires` needs paths: requires=PATH[,PATH…]"]);
  });

  it("finds an excerpt only when its lines are consecutive in the source", () => {
    const source = "function f() {\n  const a = 1;\n  return a;\n}\n";
    expect(excerptFound(["const a = 1;", "return a;"], source)).toBe(true);
    expect(excerptFound(["    const a = 1;", "    return a;"], source)).toBe(true);
    expect(excerptFound(["const a = 2;", "return a;"], source)).toBe(false);
    expect(excerptFound(["function f() {", "return a;"], source)).toBe(false);
    expect(excerptFound([], source)).toBe(false);
  });
});

describe("output comparison", () => {
  it("exact: any changed digit is a mismatch; trailing spaces and blank lines are not", () => {
    expect(compareOutput("loss 1.0250\n", "loss 1.0250  \n\n", "exact")).toBeNull();
    expect(compareOutput("loss 1.0250", "loss 1.0251", "exact")).toEqual({ line: 1, expected: "loss 1.0250", actual: "loss 1.0251" });
    expect(compareOutput("a\nb", "a", "exact")).toEqual({ line: 2, expected: "b", actual: "<no more lines>" });
  });

  it("timing: numbers are wildcards, words and layout are not", () => {
    expect(compareOutput("matmul 256: 41.5 GFLOP/s (1.32×)", "matmul 256: 9.87 GFLOP/s (0.5×)", "timing")).toBeNull();
    expect(compareOutput("1,234 tokens/s, 5e-3 s", "987 tokens/s, 1.5e-4 s", "timing")).toBeNull();
    expect(compareOutput("T = 2048: 1065.6 ms", "T = 2048:  990.2 ms", "timing")).toBeNull(); // padStart columns
    expect(compareOutput("T = 2048: 1065.6 ms", "T = 2048: 990.2ms", "timing")).not.toBeNull();
    expect(compareOutput("41.5 GFLOP/s", "41.5 MFLOP/s", "timing")).not.toBeNull();
    expect(compareOutput("a 1\nb 2", "a 1", "timing")).not.toBeNull();
  });
});

describe("running", () => {
  const program = (md: string) => chapterSnippets("docs/guide/99-machinery-test.md", md).groups[0];

  it("runs a program from the repository root and splits its output by part", async () => {
    const group = program(chapter(
      `${tick}ts run`, `import { Value } from "@zero-llm/autograd";`, `const a = new Value(3);`, `a.mul(a).backward();`, `console.log(a.grad);`, tick,
      `${tick}ts run continue`, `import { existsSync } from "node:fs";`, `console.log(existsSync("pnpm-workspace.yaml"));`, tick,
    ));
    const result = await runGroup(group, SNIPPET_DIR, REPO_ROOT);
    expect(result.stderr).toBe("");
    expect([result.exitCode, result.parts.map((p) => p.trim())]).toEqual([0, ["6", "true"]]);
  });

  it("reports a failing program's exit code and stderr", async () => {
    const group = program(chapter(`${tick}ts run`, `throw new Error("drifted");`, tick));
    const result = await runGroup(group, join(SNIPPET_DIR, "machinery"), REPO_ROOT);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/Error: drifted/);
  });

  it("update mode writes each part's output into its block and adds missing blocks", () => {
    const md = chapter("intro", `${tick}ts run`, "p(1);", tick, `${tick}text output`, "old", "lines", tick, `${tick}ts run continue`, "p(2);", tick, "end");
    const group = program(md);
    const updated = withOutputs(md, group, ["new\n", "two\nlines\n"]);
    expect(updated).toBe(chapter("intro", `${tick}ts run`, "p(1);", tick, `${tick}text output`, "new", tick, `${tick}ts run continue`, "p(2);", tick, "", `${tick}text output`, "two", "lines", tick, "end"));
    expect(chapterSnippets("x.md", updated).groups[0].parts.map((p) => p.output?.lines)).toEqual([["new"], ["two", "lines"]]);
  });
});
