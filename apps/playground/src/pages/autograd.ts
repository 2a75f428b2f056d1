import { Rng, toGraphJson, type GraphJson, type JsonNumber } from "@zero-llm/autograd";
import { expressionNames, nudge, parseExpression } from "../lib/expression";
import { layoutGraph } from "../lib/graph-layout";
import { WorkerClient } from "../lib/rpc";
import { lineChart, PALETTE } from "../ui/charts";
import { errorBox, field, fmt, h, numberInput, replace, s } from "../ui/dom";
import { MOONS_GRID, type MoonsFrame, type MoonsProtocol } from "../workers/moons-protocol";

/** The neuron of micrograd's walkthrough: tanh(w1·x1 + w2·x2 + b), with b chosen so the sum is 0.8814. */
const NEURON = { text: "tanh(x1*w1 + x2*w2 + b)", values: { x1: 2, x2: 0, w1: -3, w2: 1, b: 6.881373587019543 } };

/** A 2-2-1 tanh MLP written out as one formula: every weight is a named leaf of the graph. */
function mlpPreset(seed: number): { text: string; values: Record<string, number> } {
  const rng = new Rng(seed);
  const values: Record<string, number> = { x1: 1, x2: -0.5 };
  const hidden: string[] = [];
  for (let j = 1; j <= 2; j++) {
    values[`a${j}1`] = +rng.uniformRange(-1, 1).toFixed(3);
    values[`a${j}2`] = +rng.uniformRange(-1, 1).toFixed(3);
    values[`c${j}`] = 0;
    hidden.push(`tanh(a${j}1*x1 + a${j}2*x2 + c${j})`);
  }
  values.v1 = +rng.uniformRange(-1, 1).toFixed(3);
  values.v2 = +rng.uniformRange(-1, 1).toFixed(3);
  values.d = 0;
  return { text: `tanh(v1*${hidden[0]} + v2*${hidden[1]} + d)`, values };
}

const PRESETS: Record<string, () => { text: string; values: Record<string, number> }> = {
  "one neuron": () => NEURON,
  "a value used twice": () => ({ text: "a*b + a", values: { a: -2, b: 3 } }),
  "MLP 2-2-1": () => mlpPreset(1),
  "exp, log, division": () => ({ text: "log(exp(x) + 1) / (y^2 + 1)", values: { x: 0.5, y: 2 } }),
};

const num = (x: JsonNumber): string => (typeof x === "number" ? fmt(x) : x);

function drawGraph(graph: GraphJson): SVGSVGElement {
  const { placed, columns, rows } = layoutGraph(graph);
  const W = 112, H = 46, colW = 150, rowH = 58, pad = 12;
  const width = columns * colW + pad * 2 - (colW - W), height = rows * rowH + pad * 2 - (rowH - H);
  const positions = new Map(placed.map((p) => [p.id, { x: pad + p.column * colW, y: pad + p.row * rowH }]));
  const pos = (id: number) => positions.get(id) ?? { x: 0, y: 0 }; // layoutGraph places every node
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "computational graph: each box shows a value's data and grad" });
  for (const e of graph.edges) {
    const a = pos(e.from), b = pos(e.to);
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mid = (x1 + x2) / 2;
    svg.append(s("path", { class: "edge", d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` }));
  }
  for (const node of graph.nodes) {
    const p = pos(node.id);
    const leaf = node.op === "leaf";
    const head = leaf ? node.label || "const" : node.op === "pow" ? `pow ${node.exponent}` : node.op;
    const g = s("g", { class: `node${leaf ? " leaf" : ""}${node.id === graph.root ? " root" : ""}`, transform: `translate(${p.x},${p.y})`, "data-node": node.id });
    g.append(s("rect", { width: W, height: H, rx: 5 }));
    g.append(s("text", { x: 6, y: 13, "font-weight": 700 }, head));
    g.append(s("text", { x: 6, y: 27 }, `data ${num(node.data)}`));
    g.append(s("text", { x: 6, y: 40, class: "grad" }, `grad ${num(node.grad)}`));
    g.append(s("title", {}, `${head}: data ${String(node.data)}, grad ${String(node.grad)}`));
    svg.append(g);
  }
  return svg;
}

export function render(root: HTMLElement): () => void {
  let text = NEURON.text;
  let values: Record<string, number> = { ...NEURON.values };
  let step = 1e-4;

  const exprInput = h("input", { type: "text", value: text, size: 60, "data-testid": "expression", "aria-label": "expression" });
  const valuesBox = h("div", { class: "controls" });
  const graphBox = h("div", { class: "graph", "data-testid": "graph" });
  const outLine = h("p", { "data-testid": "output" });
  const nudgeTable = h("table", { "data-testid": "nudge-table" });
  const nudgeNote = h("p", { "data-testid": "nudge-note", class: "note" });
  const problem = h("div");

  const refresh = (): void => {
    replace(problem);
    try {
      const { root: out, inputs } = parseExpression(text, values);
      out.backward();
      replace(graphBox, drawGraph(toGraphJson(out)));
      replace(outLine, "f = ", h("b", { "data-testid": "f-value" }, fmt(out.data, 6)), `  (${inputs.size} inputs; gradients from one backward() pass)`);
      const head = h("tr", {}, ...["input", "value", "∂f/∂input (backward)", "f(x+h) − f(x)", "measured slope", ""].map((t, k) => h("th", { class: k === 0 ? "text" : "" }, t)));
      const rows = [...inputs.keys()].map((name) => {
        const r = nudge(text, values, name, step);
        const button = h("button", {
          "data-testid": `nudge-${name}`,
          onclick: () => {
            const before = r.f;
            values = { ...values, [name]: values[name] + step };
            buildValueInputs();
            refresh();
            replace(nudgeNote, `Nudged ${name} by h = ${step}: f moved from ${fmt(before, 8)} to ${fmt(r.fNudged, 8)}, Δf = ${fmt(r.fNudged - before)}; the gradient predicted ${fmt(r.grad)} × ${step} = ${fmt(r.grad * step)}.`);
          },
        }, `nudge ${name} +h`);
        return h("tr", { "data-input": name },
          h("td", { class: "text" }, h("code", {}, name)),
          h("td", { class: "num" }, fmt(values[name], 6)),
          h("td", { class: "num", "data-testid": `grad-${name}` }, fmt(r.grad, 6)),
          h("td", { class: "num" }, fmt(r.fNudged - r.f)),
          h("td", { class: "num", "data-testid": `slope-${name}` }, fmt(r.slope, 6)),
          h("td", {}, button));
      });
      replace(nudgeTable, h("thead", {}, head), h("tbody", {}, ...rows));
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };

  const buildValueInputs = (): void => {
    let names: string[] = [];
    try {
      names = expressionNames(text);
    } catch {
      names = Object.keys(values);
    }
    for (const n of names) if (values[n] === undefined) values[n] = 1;
    replace(valuesBox, ...names.map((n) => field(n, numberInput(values[n], { testid: `value-${n}`, onInput: (v) => { values[n] = v; refresh(); } }))));
  };

  exprInput.addEventListener("change", () => {
    text = exprInput.value;
    buildValueInputs();
    refresh();
  });

  const presetButtons = Object.entries(PRESETS).map(([name, make]) => h("button", {
    onclick: () => {
      const p = make();
      text = p.text;
      values = { ...p.values };
      exprInput.value = text;
      replace(nudgeNote);
      buildValueInputs();
      refresh();
    },
  }, name));

  // the two moons
  const canvas = h("canvas", { width: 420, height: 280, "aria-label": "decision boundary and training points", role: "img", "data-testid": "moons-canvas" });
  const lossBox = h("div", { "data-testid": "loss-chart" });
  const stats = h("p", { "data-testid": "moons-stats" }, "Not trained yet.");
  const seedIn = numberInput(1, { min: 0, step: 1, testid: "moons-seed" });
  const stepsIn = numberInput(100, { min: 1, max: 2000, step: 1, testid: "moons-steps" });
  const lrIn = numberInput(1, { min: 0.001, max: 10, testid: "moons-lr" });
  const trainButton = h("button", { class: "primary", "data-testid": "moons-train" }, "Train");
  const stopButton = h("button", { disabled: true }, "Stop");
  let client: WorkerClient<MoonsProtocol> | null = null;
  let points: MoonsFrame["points"];
  const losses: [number, number][] = [];

  const drawMoons = (grid: Float32Array): void => {
    const ctx = canvas.getContext("2d");
    const shown = points;
    if (!ctx || !shown) return;
    const { size, x0, x1, y0, y1 } = MOONS_GRID;
    const cw = canvas.width / size, ch = canvas.height / size;
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        const score = grid[r * size + c];
        const a = Math.min(1, Math.abs(score)) * 0.45 + 0.08;
        ctx.fillStyle = score > 0 ? `rgba(37,99,235,${a})` : `rgba(220,38,38,${a})`;
        ctx.fillRect(c * cw, r * ch, cw + 0.5, ch + 0.5);
      }
    }
    shown.inputs.forEach(([x, y], i) => {
      ctx.beginPath();
      ctx.arc(((x - x0) / (x1 - x0)) * canvas.width, ((y1 - y) / (y1 - y0)) * canvas.height, 4.5, 0, 2 * Math.PI);
      // class +1 white, class −1 black: readable on both backgrounds
      const positive = shown.labels[i] > 0;
      ctx.fillStyle = positive ? "#ffffff" : "#111827";
      ctx.strokeStyle = positive ? "#1e3a8a" : "#ffffff";
      ctx.lineWidth = 1.5;
      ctx.fill();
      ctx.stroke();
    });
  };

  trainButton.addEventListener("click", () => {
    client?.terminate();
    client = new WorkerClient<MoonsProtocol>(new Worker(new URL("../workers/moons.worker.ts", import.meta.url), { type: "module" }));
    losses.length = 0;
    trainButton.disabled = true;
    stopButton.disabled = false;
    const steps = Math.round(stepsIn.valueAsNumber);
    client.call("train", { seed: Math.round(seedIn.valueAsNumber), steps, lr: lrIn.valueAsNumber, frameEvery: 5 }, (frame) => {
      if (frame.points) points = frame.points;
      losses.push([frame.step, frame.loss]);
      if (frame.grid) {
        drawMoons(frame.grid);
        replace(lossBox, lineChart([{ name: "loss", points: losses, color: PALETTE[0] }], { xLabel: "step", yLabel: "loss", logY: true, height: 220, xRange: [0, steps] }));
      }
      replace(stats, `step ${frame.step + 1}/${steps}: loss ${fmt(frame.loss)}, accuracy ${(100 * frame.accuracy).toFixed(0)}%, dead ReLUs ${frame.dead}/${frame.total}, ${frame.stepsPerSecond.toFixed(1)} steps/s`);
    }).then(({ final, ms, stopped }) => {
      replace(stats, h("span", {}, `${stopped ? "Stopped" : "Done"} after ${final.step} steps in ${(ms / 1000).toFixed(1)} s: final loss `,
        h("b", { "data-testid": "moons-final-loss" }, final.loss.toFixed(4)), `, accuracy ${(100 * final.accuracy).toFixed(0)}%, dead ReLUs ${final.dead}/${final.total}.`));
    }, (error: unknown) => replace(stats, errorBox(error))).finally(() => {
      trainButton.disabled = false;
      stopButton.disabled = true;
    });
  });
  stopButton.addEventListener("click", () => client?.send("stop", null));

  root.append(
    h("h1", {}, "Autograd: gradients, one node at a time"),
    h("p", { class: "lede" },
      "Every number in a computation can be a node that remembers which numbers made it and how. Calling backward() on the output walks the graph from the end, and each node passes blame (its gradient) to its inputs with its own local derivative: the chain rule, one multiplication per edge. ",
      "A gradient says how much the output moves per unit of nudge on an input; below you can check that claim by nudging."),
    h("h2", {}, "1. An expression and its graph"),
    h("div", { class: "controls" }, field("expression", exprInput, "+ − * / ^ and tanh exp log relu sigmoid gelu; press Enter"), ...presetButtons),
    valuesBox,
    outLine,
    problem,
    graphBox,
    h("p", { class: "note" }, "Boxes are Values: blue ones are inputs (leaves), the outlined one is the output. Grad is ∂f/∂(that node). A value used by two ops sums the gradients of both paths (try “a value used twice”)."),
    h("h2", {}, "2. The gradient as a sensitivity"),
    h("div", { class: "controls" }, field("nudge size h", numberInput(step, { min: 1e-9, max: 1, onInput: (v) => { if (v > 0) { step = v; refresh(); } }, testid: "nudge-h" }))),
    nudgeTable,
    nudgeNote,
    h("p", { class: "note" }, "The measured slope (f(x + h) − f(x)) / h approaches the gradient as h shrinks; the difference is the curvature times h/2, until rounding takes over below h ≈ 1e-8."),
    h("h2", {}, "3. Train an MLP on two moons"),
    h("p", {}, "The same engine, 38,000 nodes per step: a 2-16-16-1 ReLU network learns to separate two interleaved half-circles with full-batch SGD on a hinge loss, exactly as ", h("code", {}, "zllm autograd demo"), " does (same seed, same numbers). Training runs in a Web Worker; the colours are the network's score on a grid (blue positive, red negative), redrawn every 5 steps; white points are class +1, black points class −1."),
    h("div", { class: "controls" }, field("seed", seedIn), field("steps", stepsIn), field("learning rate", lrIn), trainButton, stopButton),
    h("div", { class: "row" }, h("div", { class: "canvas-box" }, canvas), h("div", { class: "col" }, lossBox)),
    stats,
  );
  buildValueInputs();
  refresh();
  return () => client?.terminate();
}
