import type { GraphJson } from "@zero-llm/autograd";

/**
 * Positions for drawing a computational graph left to right: inputs in the first column, each
 * node one column right of its deepest input, the output last. Within a column, nodes are
 * ordered by the mean row of their inputs (one barycentre pass), which keeps most edges short.
 */
export interface PlacedNode { id: number; column: number; row: number }

export function layoutGraph(graph: GraphJson): { placed: PlacedNode[]; columns: number; rows: number } {
  const inputs = new Map<number, number[]>();
  for (const e of graph.edges) inputs.set(e.to, [...(inputs.get(e.to) ?? []), e.from]);
  // ids are in topological order (children first), so one forward pass settles every column
  const column = new Array<number>(graph.nodes.length).fill(0);
  for (const node of graph.nodes) {
    for (const from of inputs.get(node.id) ?? []) column[node.id] = Math.max(column[node.id], column[from] + 1);
  }
  const columns = Math.max(0, ...column) + 1;
  const byColumn: number[][] = Array.from({ length: columns }, () => []);
  for (const node of graph.nodes) byColumn[column[node.id]].push(node.id);
  const row = new Array<number>(graph.nodes.length).fill(0);
  byColumn[0].forEach((id, r) => (row[id] = r));
  for (let c = 1; c < columns; c++) {
    const mean = (id: number) => {
      const from = inputs.get(id) ?? [];
      return from.length === 0 ? 0 : from.reduce((sum, f) => sum + row[f], 0) / from.length;
    };
    byColumn[c].sort((a, b) => mean(a) - mean(b) || a - b);
    byColumn[c].forEach((id, r) => (row[id] = r));
  }
  const rows = Math.max(...byColumn.map((ids) => ids.length));
  // centre short columns vertically against the tallest
  const placed = graph.nodes.map((n) => ({ id: n.id, column: column[n.id], row: row[n.id] + (rows - byColumn[column[n.id]].length) / 2 }));
  return { placed, columns, rows };
}
