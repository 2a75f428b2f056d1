import { describe, expect, it } from "vitest";
import { TARGET_LOSS, failureMessage, runDemo, type DemoResult } from "../src/commands/autograd-demo";
import { runCli } from "./helpers";

describe("zllm autograd demo", () => {
  it(
    "the default run (100 SGD steps, seed 1) drives the loss below the stated target",
    () => {
      const r = runDemo({ steps: 100, seed: 1, init: "kaiming", lr: 1 });
      expect(r.passed).toBe(true);
      expect(r.final.loss).toBeLessThan(TARGET_LOSS);
      expect(r.history[0].loss).toBeGreaterThan(0.5); // it starts near chance: hinge ≈ 1
      expect(r.final.loss).toBeLessThan(r.history[0].loss / 10);
      expect(r.final.accuracy).toBeGreaterThanOrEqual(0.97);
      expect(r.model).toEqual({ sizes: [2, 16, 16, 1], activation: "relu", parameters: 337 });
      expect(r.deadRelu.start.total).toBe(32);
      expect(r.deadRelu.start.dead).toBeLessThan(8);
    },
    120_000,
  );

  it("is reproducible: the same seed gives the same losses; another seed does not", () => {
    const a = runDemo({ steps: 3, seed: 7, init: "kaiming", lr: 1 });
    const b = runDemo({ steps: 3, seed: 7, init: "kaiming", lr: 1 });
    const c = runDemo({ steps: 3, seed: 8, init: "kaiming", lr: 1 });
    expect(b.history).toEqual(a.history);
    expect(c.history).not.toEqual(a.history);
  });

  it("text output: header, step lines, dead ReLUs at start and end; short runs fail the target with exit 1", async () => {
    const r = await runCli(["autograd", "demo", "--steps", "3", "--seed", "2"]);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("MLP 2-16-16-1 (relu, kaiming init, 337 parameters) on 100 moons points, seed 2");
    expect(lines[1]).toBe(`SGD for 3 steps, lr 1 decaying to 0.1; loss = mean hinge + 0.0001·Σp²; target: loss < ${TARGET_LOSS}`);
    expect(lines[2]).toMatch(/^dead ReLU units at start: \d+\/32 \(\d+\.\d%\)$/);
    expect(lines.slice(3, 6).map((l) => l.slice(0, 10))).toEqual(["step     0", "step     1", "step     2"]);
    expect(lines[3]).toMatch(/^step {5}0 {2}loss \d\.\d{4} {2}accuracy +\d+\.\d%$/);
    expect(lines[6]).toMatch(/^dead ReLU units at end: /);
    expect(lines[7]).toMatch(/^final loss \d\.\d{4}, accuracy \d+\.\d% after 3 steps in \d+\.\d s$/);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^zllm: demo failed: final loss \\d\\.\\d{4} is not below the target ${TARGET_LOSS}\\n$`));
  });

  it("--init zeros: every ReLU starts dead, nothing learns, and the demo says so (exit 1)", async () => {
    const r = await runCli(["autograd", "demo", "--steps", "5", "--init", "zeros", "--json"]);
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout) as DemoResult;
    expect(result.deadRelu.start).toEqual({ dead: 32, total: 32 });
    expect(result.deadRelu.end).toEqual({ dead: 32, total: 32 });
    expect(result.history.map((s) => s.loss)).toEqual([1, 1, 1, 1, 1]);
    expect(result.passed).toBe(false);
    expect(r.stderr).toBe(`zllm: demo failed: final loss 1.0000 is not below the target ${TARGET_LOSS}\n`);
  });

  it("--json prints one JSON object with the options, every step and the result", async () => {
    const r = await runCli(["autograd", "demo", "--steps", "4", "--seed", "3", "--init", "he", "--lr", "0.5", "--json"]);
    const result = JSON.parse(r.stdout) as DemoResult;
    expect(result.options).toEqual({ steps: 4, seed: 3, init: "he", lr: 0.5 });
    expect(result.history.map((s) => s.step)).toEqual([0, 1, 2, 3]);
    expect(result.target).toBe(TARGET_LOSS);
    expect(result.final.step).toBe(4);
    expect(r.stdout.trimEnd().split("\n").length).toBe(1);
  });

  it("a divergent learning rate stops at the first non-finite loss and says so", () => {
    const r = runDemo({ steps: 20, seed: 1, init: "kaiming", lr: 1e10 });
    expect(r.history.length).toBeLessThan(20);
    expect(r.history.at(-1)!.loss).toBe(Infinity);
    expect(r.passed).toBe(false);
    expect(failureMessage(r)).toBe(`demo failed: final loss is Infinity (training diverged), not below the target ${TARGET_LOSS}`);
  });

  it("bad flags exit 2 with the demo's usage", async () => {
    for (const argv of [["--steps", "0"], ["--init", "lecun"], ["--seed", "-1"], ["--lr", "0"], ["extra"]]) {
      const r = await runCli(["autograd", "demo", ...argv]);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.stderr).toContain("Usage: zllm autograd demo [--steps N] [--seed S] [--init NAME] [--lr X] [--json]");
    }
  });
});
