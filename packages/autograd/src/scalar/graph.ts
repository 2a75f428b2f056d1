import { topologicalOrder, type ScalarOp, type Value } from "./value";

/**
 * Graph export for drawing: DOT text (Graphviz) and a JSON form for the playground.
 * Node ids are positions in topological order (children before parents, the root last), so the
 * same graph always exports to the same text.
 */

/** JSON has no NaN or Infinity; non-finite numbers are written as these strings. */
export type JsonNumber = number | "NaN" | "Infinity" | "-Infinity";

export interface GraphNode {
  id: number;
  label: string;
  op: ScalarOp;
  data: JsonNumber;
  grad: JsonNumber;
  /** Only on "pow" nodes. */
  exponent?: number;
}

/** Data flows from → to: `from` is an input (child) of `to`. An input used twice gives two edges. */
export interface GraphEdge {
  from: number;
  to: number;
}

export interface GraphJson {
  root: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

function jsonNumber(x: number): JsonNumber {
  if (Number.isFinite(x)) return x;
  return Number.isNaN(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity";
}

export function toGraphJson(root: Value): GraphJson {
  const order = topologicalOrder(root);
  const ids = new Map<Value, number>(order.map((v, i) => [v, i]));
  const nodes: GraphNode[] = order.map((v, id) => {
    const node: GraphNode = { id, label: v.label, op: v.op, data: jsonNumber(v.data), grad: jsonNumber(v.grad) };
    if (v.exponent !== undefined) node.exponent = v.exponent;
    return node;
  });
  const edges: GraphEdge[] = [];
  order.forEach((v, to) => {
    for (const child of v.children) edges.push({ from: ids.get(child)!, to });
  });
  return { root: order.length - 1, nodes, edges };
}

/** Characters with a meaning inside a Graphviz record label. */
function escapeRecord(text: string): string {
  return text.replace(/[\\{}|<>"]/g, (c) => `\\${c}`);
}

function formatNumber(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(6))) : String(x);
}

/**
 * Graphviz DOT, left to right: each Value is a record box `label | data | grad`; each op is a
 * small ellipse between its inputs and its output (the layout micrograd's notebooks draw).
 */
export function toDot(root: Value): string {
  const order = topologicalOrder(root);
  const ids = new Map<Value, number>(order.map((v, i) => [v, i]));
  const lines = ["digraph autograd {", "  rankdir=LR;", '  node [fontname="monospace"];'];
  order.forEach((v, id) => {
    const fields = [v.label, `data ${formatNumber(v.data)}`, `grad ${formatNumber(v.grad)}`].filter((f) => f !== "");
    lines.push(`  v${id} [shape=record, label="{ ${fields.map(escapeRecord).join(" | ")} }"];`);
    if (v.op !== "leaf") {
      const opText = v.op === "pow" ? `pow ${formatNumber(v.exponent!)}` : v.op;
      lines.push(`  op${id} [shape=ellipse, label="${escapeRecord(opText)}"];`);
      lines.push(`  op${id} -> v${id};`);
      for (const child of v.children) lines.push(`  v${ids.get(child)!} -> op${id};`);
    }
  });
  lines.push("}");
  return lines.join("\n") + "\n";
}
