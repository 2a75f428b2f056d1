import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Value } from "../src/index";

/** Each op's backward rule against central finite differences, and against PyTorch (float64). */

type Unary = (x: Value) => Value;
type Binary = (a: Value, b: Value) => Value;

const H = 1e-6;
/** (f(x+h) − f(x−h)) / 2h has error O(h²·f''') plus rounding O(ε·|f|/h): ~1e-9 relative here. */
function centralDifference(f: (x: number) => number, x: number): number {
  return (f(x + H) - f(x - H)) / (2 * H);
}

function expectClose(actual: number, expected: number, rel: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(expected)));
}

const unary: Record<string, { f: Unary; points: number[] }> = {
  neg: { f: (x) => x.neg(), points: [-2, 0.5, 3] },
  exp: { f: (x) => x.exp(), points: [-2, 0, 0.5, 3] },
  log: { f: (x) => x.log(), points: [0.1, 1, 2.5, 40] },
  tanh: { f: (x) => x.tanh(), points: [-2, -0.3, 0, 0.7, 3] },
  sigmoid: { f: (x) => x.sigmoid(), points: [-30, -2, 0, 0.7, 5] },
  relu: { f: (x) => x.relu(), points: [-2, -0.1, 0.1, 3] },
  gelu: { f: (x) => x.gelu(), points: [-4, -1, -0.2, 0, 0.3, 2, 6] },
  "pow 2": { f: (x) => x.pow(2), points: [-1.5, 0.5, 3] },
  "pow 3": { f: (x) => x.pow(3), points: [-1.5, 0.5, 3] },
  "pow -1": { f: (x) => x.pow(-1), points: [-1.5, 0.5, 3] },
  "pow 0.5": { f: (x) => x.pow(0.5), points: [0.2, 1, 9] },
  "add const": { f: (x) => x.add(2.5), points: [-1, 4] },
  "mul const": { f: (x) => x.mul(-3), points: [-1, 4] },
  "div const": { f: (x) => x.div(4), points: [-1, 4] },
  "sum with self": { f: (x) => Value.sum([x, x.mul(x), 3]), points: [-1, 0.5, 2] },
};

const binary: Record<string, { f: Binary; pairs: [number, number][] }> = {
  add: { f: (a, b) => a.add(b), pairs: [[1.5, -2], [0.3, 0.7]] },
  sub: { f: (a, b) => a.sub(b), pairs: [[1.5, -2], [0.3, 0.7]] },
  mul: { f: (a, b) => a.mul(b), pairs: [[1.5, -2], [0.3, 0.7], [-4, 0.25]] },
  div: { f: (a, b) => a.div(b), pairs: [[1.5, -2], [0.3, 0.7], [-4, 0.25]] },
  "composite a·tanh(b)/(1+a²)": { f: (a, b) => a.mul(b.tanh()).div(a.pow(2).add(1)), pairs: [[0.8, -1.1], [-2, 0.4]] },
};

describe("every op's gradient matches central finite differences", () => {
  for (const [name, { f, points }] of Object.entries(unary)) {
    it.each(points)(`${name} at x = %f`, (x0) => {
      const x = new Value(x0);
      const y = f(x);
      y.backward();
      const numeric = centralDifference((t) => f(new Value(t)).data, x0);
      expectClose(x.grad, numeric, 1e-7);
    });
  }

  for (const [name, { f, pairs }] of Object.entries(binary)) {
    it.each(pairs)(`${name} at (%f, %f)`, (a0, b0) => {
      const a = new Value(a0);
      const b = new Value(b0);
      f(a, b).backward();
      expectClose(a.grad, centralDifference((t) => f(new Value(t), new Value(b0)).data, a0), 1e-7);
      expectClose(b.grad, centralDifference((t) => f(new Value(a0), new Value(t)).data, b0), 1e-7);
    });
  }
});

interface UnaryCase { x: number; y: number; dx: number; n?: number }
interface BinaryCase { a: number; b: number; y: number; da: number; db: number }
interface OpsFixture { ops: { op: string; cases: (UnaryCase | BinaryCase)[] }[] }

const fixture = JSON.parse(
  readFileSync(fileURLToPath(new URL("./fixtures/scalar_ops.json", import.meta.url)), "utf8"),
) as OpsFixture;

const byName: Record<string, (x: Value, c: UnaryCase) => Value> = {
  neg: (x) => x.neg(),
  exp: (x) => x.exp(),
  log: (x) => x.log(),
  tanh: (x) => x.tanh(),
  sigmoid: (x) => x.sigmoid(),
  relu: (x) => x.relu(),
  gelu: (x) => x.gelu(),
  pow: (x, c) => x.pow(c.n!),
};
const binaryByName: Record<string, Binary> = {
  add: (a, b) => a.add(b),
  sub: (a, b) => a.sub(b),
  mul: (a, b) => a.mul(b),
  div: (a, b) => a.div(b),
};

describe("every op matches PyTorch float64 (tools/fixtures/make_scalar_mlp.py)", () => {
  for (const { op, cases } of fixture.ops) {
    it(`${op}: value and derivative at ${cases.length} points`, () => {
      for (const c of cases) {
        if ("a" in c) {
          const a = new Value(c.a);
          const b = new Value(c.b);
          const y = binaryByName[op](a, b);
          y.backward();
          expectClose(y.data, c.y, 1e-14);
          expectClose(a.grad, c.da, 1e-14);
          expectClose(b.grad, c.db, 1e-14);
        } else {
          const x = new Value(c.x);
          const y = byName[op](x, c);
          y.backward();
          expectClose(y.data, c.y, 1e-14);
          expectClose(x.grad, c.dx, 1e-14);
        }
      }
    });
  }
});
