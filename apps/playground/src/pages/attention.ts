import { WorkerClient } from "../lib/rpc";
import { heatColor, heatmap, lineChart, PALETTE } from "../ui/charts";
import { errorBox, field, fmt, h, replace, s } from "../ui/dom";
import type { AttentionResult, ModelInfo, ModelProtocol } from "../workers/model-protocol";

const DEFAULT_PROMPT = "The jury said that the city had been paid for the work";

/** A least-squares line through (log n, log ms): the exponent of the cost's growth. */
export function growthExponent(points: ReadonlyArray<readonly [number, number]>): number {
  const xs = points.map(([n]) => Math.log(n)), ys = points.map(([, ms]) => Math.log(ms));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length, my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0, den = 0;
  xs.forEach((x, i) => { num += (x - mx) * (ys[i] - my); den += (x - mx) ** 2; });
  return num / den;
}

const shown = (piece: string) => JSON.stringify(piece).slice(1, -1);

/** The selected head's map, large, with the tokens on both axes (SVG: every cell has a tooltip). */
function labelledMap(r: AttentionResult, layer: number, head: number, query: number): SVGSVGElement {
  const n = r.ids.length, cell = Math.max(14, Math.min(30, Math.floor(520 / n))), left = 110, top = 90;
  const map = r.layers[layer].subarray(head * n * n, (head + 1) * n * n);
  const svg = s("svg", { viewBox: `0 0 ${left + n * cell + 4} ${top + n * cell + 4}`, class: "chart", style: "max-width: 680px", role: "img", "aria-label": `attention weights, layer ${layer}, head ${head}` });
  r.pieces.forEach((p, i) => {
    svg.append(s("text", { x: left - 4, y: top + i * cell + cell * 0.7, "text-anchor": "end", "font-weight": i === query ? 700 : 400 }, shown(p)));
    svg.append(s("text", { x: 0, y: 0, transform: `translate(${left + i * cell + cell * 0.65},${top - 4}) rotate(-60)` }, shown(p)));
  });
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const w = map[i * n + j];
      const [R, G, B] = heatColor(w);
      svg.append(s("rect", { x: left + j * cell, y: top + i * cell, width: cell - 1, height: cell - 1, fill: j > i ? "#f3f4f6" : `rgb(${R},${G},${B})` },
        s("title", {}, j > i ? `masked: ${shown(r.pieces[i])} cannot see ${shown(r.pieces[j])} (a later position)` : `${shown(r.pieces[i])} → ${shown(r.pieces[j])}: ${fmt(w)}`)));
    }
  }
  svg.append(s("rect", { x: left - 1, y: top + query * cell - 1, width: n * cell + 1, height: cell + 1, fill: "none", stroke: "#f59e0b", "stroke-width": 2 }));
  return svg;
}

/** A vector as one row of coloured cells (blue positive, red negative). */
function strip(v: readonly number[], scale: number): HTMLCanvasElement {
  const c = document.createElement("canvas");
  c.width = v.length * 6;
  c.height = 12;
  const ctx = c.getContext("2d");
  if (ctx) v.forEach((x, i) => {
    const t = Math.min(1, Math.abs(x) / scale);
    ctx.fillStyle = x >= 0 ? `rgba(37,99,235,${t})` : `rgba(220,38,38,${t})`;
    ctx.fillRect(i * 6, 0, 6, 12);
  });
  return c;
}

export function render(root: HTMLElement): () => void {
  const client = new WorkerClient<ModelProtocol>(new Worker(new URL("../workers/model.worker.ts", import.meta.url), { type: "module" }));
  const promptIn = h("input", { type: "text", value: DEFAULT_PROMPT, size: 60, "data-testid": "prompt", "aria-label": "prompt" });
  const runButton = h("button", { class: "primary", "data-testid": "run" }, "Run the model");
  const info = h("p", { class: "note", "data-testid": "model-info" }, "Loading the embedded model in a Web Worker…");
  const grid = h("div", { class: "heatmaps", "data-testid": "heatmaps" });
  const big = h("div");
  const querySelect = h("select", { "data-testid": "query" });
  const walkBox = h("div", { "data-testid": "walk" });
  const costBox = h("div", { "data-testid": "cost" });
  const costNote = h("p", { class: "note", "data-testid": "cost-note" });
  let result: AttentionResult | null = null;
  let modelInfo: ModelInfo | null = null;
  // layer 3, head 1 of the embedded model looks at the previous token: a clear first picture
  let layer = 3, head = 1, query = 0;

  let walkTicket = 0;
  const walk = async (): Promise<void> => {
    if (!result) return;
    const mine = ++walkTicket;
    replace(big, labelledMap(result, layer, head, query));
    try {
      const w = await client.call("walk", { prompt: promptIn.value, layer, head, query });
      if (mine !== walkTicket) return; // the reader chose another head or query meanwhile
      const r = result;
      const vScale = Math.max(...w.values.flat().map(Math.abs), 1e-9);
      const kScale = Math.max(...w.keys.flat().map(Math.abs), ...w.q.map(Math.abs), 1e-9);
      replace(walkBox,
        h("p", {}, `Layer ${layer}, head ${head} (it reads key-value head ${w.kvHead}: ${modelInfo ? modelInfo.config.nHeads / modelInfo.config.nKvHeads : "?"} query heads share each), query `, h("b", {}, `“${shown(r.pieces[query])}”`), ` at position ${query}; head size d = ${w.headDim}.`),
        h("p", {}, "q = ", strip(w.q, kScale), "  the query vector after RoPE (blue > 0, red < 0)"),
        h("table", { class: "steps", "data-testid": "walk-table" },
          h("thead", {}, h("tr", {}, h("th", {}, "j"), h("th", { class: "text" }, "key token"), h("th", { class: "text" }, "kⱼ"), h("th", {}, "1. q·kⱼ"), h("th", {}, `2. ÷ √${w.headDim}`), h("th", {}, "3. mask"), h("th", {}, "4. softmax pⱼ"), h("th", {}, "model's weight"), h("th", { class: "text" }, "vⱼ"))),
          h("tbody", {}, ...w.scores.map((sc, j) => h("tr", { class: j > query ? "muted" : "" },
            h("td", {}, j), h("td", { class: "text" }, h("code", {}, shown(r.pieces[j]))), h("td", { class: "text" }, strip(w.keys[j], kScale)),
            h("td", { class: "num" }, fmt(sc)), h("td", { class: "num" }, fmt(w.scaled[j])), h("td", { class: "num" }, j > query ? "−∞" : "0"),
            h("td", { class: "num", "data-testid": `p-${j}` }, fmt(w.probs[j])), h("td", { class: "num" }, fmt(w.modelProbs[j])),
            h("td", { class: "text" }, strip(w.values[j], vScale)))))),
        h("p", {}, "5. output = Σ pⱼ·vⱼ = ", strip(w.output, vScale), "  a weighted mix of the values: a soft lookup, where the keys decide how much of each value to take."),
        h("p", { class: "note", "data-testid": "walk-check" }, `Recomputed here with @zero-llm/tensor ops (embedding, rmsNorm, linear, rope, attention) from the model's weights; the largest difference from the weights the model captured in its own forward pass is `, h("b", { "data-testid": "walk-diff" }, w.maxDiff.toExponential(2)), "."),
      );
    } catch (error) {
      if (mine === walkTicket) replace(walkBox, errorBox(error));
    }
  };

  const run = async (): Promise<void> => {
    runButton.disabled = true;
    try {
      modelInfo ??= await client.call("load", null);
      const c = modelInfo.config;
      replace(info, `The embedded model: ${modelInfo.parameters.toLocaleString("en")} parameters, ${c.nLayers} layers × ${c.nHeads} heads (${c.nKvHeads} key-value heads, head size ${c.headDim}), context ${c.seqLen}; loaded in ${fmt(modelInfo.ms, 3)} ms on the ${modelInfo.backend} backend.`);
      const r = await client.call("attention", { prompt: promptIn.value });
      result = r;
      const n = r.ids.length;
      grid.style.gridTemplateColumns = `repeat(${c.nHeads}, minmax(0, 1fr))`;
      replace(grid, ...r.layers.flatMap((map, l) => Array.from({ length: c.nHeads }, (_, hh) => {
        const canvas = heatmap(map.subarray(hh * n * n, (hh + 1) * n * n), n, n, { cell: Math.max(3, Math.floor(150 / n)), max: 1, label: `layer ${l}, head ${hh}` });
        if (l === layer && hh === head) canvas.classList.add("selected");
        const button = h("button", { class: "plain", style: "border:none;padding:0;background:none", "aria-label": `show layer ${l}, head ${hh}`, "data-testid": `map-${l}-${hh}`, onclick: () => {
          layer = l;
          head = hh;
          for (const cv of grid.querySelectorAll("canvas")) cv.classList.remove("selected");
          canvas.classList.add("selected");
          void walk();
        } }, canvas);
        return h("figure", {}, button, h("figcaption", {}, `layer ${l}, head ${hh}`));
      })));
      query = n - 1;
      replace(querySelect, ...r.pieces.map((p, i) => h("option", { value: i }, `${i}: ${shown(p)}`)));
      querySelect.value = String(query);
      await walk();
    } catch (error) {
      replace(info, errorBox(error));
    } finally {
      runButton.disabled = false;
    }
  };
  querySelect.addEventListener("change", () => {
    query = Number(querySelect.value);
    void walk();
  });
  runButton.addEventListener("click", () => void run());
  promptIn.addEventListener("keydown", (e) => { if (e.key === "Enter") void run(); });

  const measure = async (): Promise<void> => {
    const attentionPts: [number, number][] = [], prefillPts: [number, number][] = [];
    const draw = () => replace(costBox, lineChart([
      { name: "attention kernel alone", points: attentionPts, color: PALETTE[1] },
      { name: "whole prefill (per forward pass)", points: prefillPts, color: PALETTE[0] },
    ], { xLabel: "context length N (tokens)", yLabel: "milliseconds", logX: true, logY: true, dots: true, height: 300, xRange: [24, 4096], legendAt: "left" }));
    replace(costNote, "Measuring…");
    try {
      await client.call("cost", { attentionLengths: [64, 128, 256, 512, 1024, 2048, 4096], prefillLengths: [32, 64, 128, 256, 512] }, (e) => {
        (e.kind === "attention" ? attentionPts : prefillPts).push([e.n, e.ms]);
        draw();
      });
      const big = attentionPts.filter(([n]) => n >= 512);
      replace(costNote, "Measured in this browser (best of 3 runs each). From N = 512 on, the attention kernel's time grows as N^",
        h("b", { "data-testid": "attention-exponent" }, fmt(growthExponent(big), 3)),
        ": doubling the context quadruples the work, because every one of N queries scores every earlier key. The whole prefill grows as N^",
        h("b", {}, fmt(growthExponent(prefillPts.filter(([n]) => n >= 64)), 3)),
        " here: at this model's size the projections and the MLP (linear in N) still dominate; the quadratic term takes over as N grows. The model was trained on 512 positions, so its prefill stops there.");
    } catch (error) {
      replace(costNote, errorBox(error));
    }
  };

  root.append(
    h("h1", {}, "Attention: a soft lookup"),
    h("p", { class: "lede" },
      "Each token asks a question (its query q) and every earlier token offers a label (its key k) and a content (its value v). ",
      "The scores q·k, scaled by 1/√d so they do not grow with the head size, become weights through a softmax, and the token takes that weighted mix of the values. ",
      "A causal mask hides later tokens: a model that predicts the next word must not read it."),
    h("div", { class: "controls" }, field("prompt", promptIn), runButton),
    info,
    h("h2", {}, "Attention maps: every layer, every head"),
    h("p", { class: "note" }, "Row i is what token i attends to; darker is more weight. Each head learns its own pattern (the previous token, the first token, a related word). Choose a map to see it large and to walk through one of its queries."),
    grid,
    h("h2", {}, "One query, step by step"),
    h("div", { class: "controls" }, field("query token", querySelect)),
    big,
    walkBox,
    h("h2", {}, "The cost of context: the O(N²) wall"),
    h("div", { class: "controls" }, h("button", { "data-testid": "measure", onclick: () => void measure() }, "Measure again")),
    costBox, costNote,
  );
  void run().then(measure);
  return () => client.terminate();
}
