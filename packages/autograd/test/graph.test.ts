import { describe, expect, it } from "vitest";
import { Value, toDot, toGraphJson } from "../src/index";

describe("graph export", () => {
  const a = new Value(2, "a");
  const b = new Value(-3, "b");
  const c = a.mul(b);
  c.label = "c";
  const d = c.add(a).pow(2);
  d.label = "d";
  d.backward();

  it("JSON: nodes in topological order with data, grad, op; edges child → parent", () => {
    const g = toGraphJson(d);
    expect(g.root).toBe(g.nodes.length - 1);
    expect(g.nodes.map((n) => [n.label, n.op, n.data])).toEqual([
      ["a", "leaf", 2],
      ["b", "leaf", -3],
      ["c", "mul", -6],
      ["", "add", -4],
      ["d", "pow", 16],
    ]);
    // d = (ab + a)², dd/da = 2(ab + a)(b + 1) = 16, dd/db = 2(ab + a)·a = −16
    expect(g.nodes.map((n) => n.grad)).toEqual([16, -16, -8, -8, 1]);
    expect(g.nodes[4].exponent).toBe(2);
    expect(g.nodes[0].exponent).toBeUndefined();
    expect(g.edges).toEqual([
      { from: 0, to: 2 },
      { from: 1, to: 2 },
      { from: 2, to: 3 },
      { from: 0, to: 3 },
      { from: 3, to: 4 },
    ]);
    expect(JSON.parse(JSON.stringify(g))).toEqual(g);
  });

  it("JSON: a value used twice gives two edges; non-finite numbers become strings", () => {
    const x = new Value(0);
    const y = x.mul(x).log(); // log(0) = −Infinity
    y.backward(); // 1/0 · … → Infinity and NaN grads
    const g = toGraphJson(y);
    expect(g.edges.filter((e) => e.from === 0 && e.to === 1).length).toBe(2);
    expect(g.nodes[2].data).toBe("-Infinity");
    expect(g.nodes[1].grad).toBe("Infinity");
    expect(g.nodes[0].grad).toBe("NaN"); // 0·∞
    expect(JSON.parse(JSON.stringify(g))).toEqual(g);
  });

  it("DOT: a record per value, an ellipse per op, edges through the op", () => {
    expect(toDot(d)).toBe(
      [
        "digraph autograd {",
        "  rankdir=LR;",
        '  node [fontname="monospace"];',
        '  v0 [shape=record, label="{ a | data 2 | grad 16 }"];',
        '  v1 [shape=record, label="{ b | data -3 | grad -16 }"];',
        '  v2 [shape=record, label="{ c | data -6 | grad -8 }"];',
        '  op2 [shape=ellipse, label="mul"];',
        "  op2 -> v2;",
        "  v0 -> op2;",
        "  v1 -> op2;",
        '  v3 [shape=record, label="{ data -4 | grad -8 }"];',
        '  op3 [shape=ellipse, label="add"];',
        "  op3 -> v3;",
        "  v2 -> op3;",
        "  v0 -> op3;",
        '  v4 [shape=record, label="{ d | data 16 | grad 1 }"];',
        '  op4 [shape=ellipse, label="pow 2"];',
        "  op4 -> v4;",
        "  v3 -> op4;",
        "}",
        "",
      ].join("\n"),
    );
  });

  it("DOT: labels with record metacharacters are escaped", () => {
    expect(toDot(new Value(1, 'x{|}<">'))).toContain('label="{ x\\{\\|\\}\\<\\"\\> | data 1 | grad 0 }"');
  });
});
