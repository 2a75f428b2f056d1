import { ACTIVATION_NAMES, INITS, activationCurve, type DepthActivation, type InitName } from "../lib/depth";
import { WorkerClient } from "../lib/rpc";
import { lineChart, PALETTE } from "../ui/charts";
import { errorBox, field, fmt, h, numberInput, replace } from "../ui/dom";
import type { DepthProtocol } from "../workers/depth-protocol";

const VALVES: Record<string, string> = {
  relu: "open (1) for x > 0, shut (0) below: a unit stuck below 0 passes no gradient.",
  sigmoid: "never more than ¼ open: ten sigmoid layers shrink a gradient by 4¹⁰ at least.",
  tanh: "fully open only at 0, closing in saturation (|x| > 3).",
  gelu: "smooth; slightly negative for x < 0, so it rarely shuts completely.",
  silu: "x·σ(x): like GELU, smooth and never quite shut; Llama's MLP gate.",
};

const SHORT: Record<InitName, string> = { zeros: "zeros", tiny: "tiny", large: "large", xavier: "Xavier", kaiming: "Kaiming" };

export function render(root: HTMLElement): () => void {
  const curves = h("div", { class: "row" });
  for (const name of ACTIVATION_NAMES) {
    const { f, df } = activationCurve(name);
    curves.append(h("figure", { class: "col", style: "flex-basis: 240px; margin: 0" },
      lineChart([{ name, points: f, color: PALETTE[0] }, { name: `d${name}/dx`, points: df, color: PALETTE[1], dashed: true }],
        { width: 300, height: 200, xRange: [-5, 5], yRange: [-1.2, 2.2], title: `${name} and its derivative`, legend: false }),
      h("figcaption", {}, h("b", {}, name), ": ", VALVES[name])));
  }

  const activationSelect = h("select", { "data-testid": "depth-activation" }, h("option", { value: "relu" }, "ReLU"), h("option", { value: "tanh" }, "tanh"));
  const biasIn = numberInput(0, { min: -5, max: 5, step: 0.1, testid: "depth-bias" });
  const seedIn = numberInput(1, { min: 0, step: 1, testid: "depth-seed" });
  const runButton = h("button", { class: "primary", "data-testid": "depth-run" }, "Run 50 layers");
  const status = h("p", { class: "note", "data-testid": "depth-status" });
  const charts = h("div", { class: "row" });
  const table = h("div");
  let client: WorkerClient<DepthProtocol> | null = null;

  const run = (): void => {
    client ??= new WorkerClient<DepthProtocol>(new Worker(new URL("../workers/depth.worker.ts", import.meta.url), { type: "module" }));
    const activation = activationSelect.value as DepthActivation;
    const inits = Object.keys(INITS) as InitName[];
    runButton.disabled = true;
    replace(status, "Running forward and backward through 50 layers for each initialization…");
    client.call("run", { activation, bias: biasIn.valueAsNumber || 0, seed: Math.round(seedIn.valueAsNumber) || 0, inits }).then(({ results, ms, backend }) => {
      const series = (key: "signal" | "gradient") => inits.map((init, i) => ({
        name: SHORT[init], color: PALETTE[i], points: results[init][key].map((v, l) => [l, v] as [number, number]),
      }));
      replace(charts,
        h("div", { class: "col" }, h("h3", {}, "Signal: RMS of each layer's output"), lineChart(series("signal"), { xLabel: "layer", yLabel: "RMS of hₗ", logY: true, xRange: [0, 50], height: 300 })),
        h("div", { class: "col" }, h("h3", {}, "Gradient: RMS of dL/dhₗ"), lineChart(series("gradient"), { xLabel: "layer", yLabel: "RMS of dL/dhₗ", logY: true, xRange: [0, 50], height: 300 })));
      const cell = (v: number) => h("td", { class: "num" }, Number.isFinite(v) ? (v === 0 ? "0" : v.toExponential(2)) : String(v));
      replace(table, h("table", { "data-testid": "depth-table" },
        h("thead", {}, h("tr", {}, h("th", { class: "text" }, "initialization"), h("th", {}, "signal, layer 10"), h("th", {}, "signal, layer 50"), h("th", {}, "gradient at layer 0"), h("th", {}, "dead ReLUs (of 50 × 128)"))),
        h("tbody", {}, ...inits.map((init) => {
          const r = results[init];
          return h("tr", { "data-init": init }, h("td", { class: "text" }, INITS[init]), cell(r.signal[10]), r.overflowAt !== null ? h("td", { class: "num bad-text" }, `overflow at layer ${r.overflowAt}`) : h("td", { class: "num", "data-testid": `signal50-${init}` }, r.signal[50].toExponential(4)),
            r.overflowAt !== null ? h("td", { class: "num bad-text" }, "—") : cell(r.gradient[0]),
            h("td", { class: "num", "data-testid": `dead-${init}` }, activation === "relu" ? String(r.dead.reduce((a, b) => a + b, 0)) : "—"));
        }))));
      replace(status, `50 layers of width 128, a batch of 64 unit-variance inputs, bias ${fmt(biasIn.valueAsNumber || 0)}: ${(ms / 1000).toFixed(2)} s on the ${backend} backend, in a Web Worker. A signal past the float32 range (3.4e38) overflows to ∞ and then NaN: its line stops there, and no gradient can be computed through it. A value below 1e-45 underflows to 0 and leaves the log scale.`);
    }, (error: unknown) => replace(status, errorBox(error))).finally(() => (runButton.disabled = false));
  };
  runButton.addEventListener("click", run);

  root.append(
    h("h1", {}, "Activations and initialization"),
    h("p", { class: "lede" },
      "Between two layers sits a nonlinearity, and in the backward pass its derivative is a valve on the gradient: where it is near 0, nothing gets through. ",
      "The initial weights set a second factor: each layer multiplies the variance of its signal by n·Var(w)·(what the activation keeps). Keep that factor at 1 and a deep network can learn; 2 or ½ per layer is 10¹⁵ either way after 50 layers."),
    h("h2", {}, "Each activation (solid) and its derivative (dashed)"),
    h("p", { class: "note" }, "The derivatives are computed by the scalar autograd engine's backward() at every point, not by a formula."),
    curves,
    h("h2", {}, "Signal and gradient through 50 layers"),
    h("p", {}, "Zeros: every unit computes the same thing and nothing flows (symmetry is never broken). Tiny weights: the signal fades. Large weights: it explodes (ReLU) or saturates (tanh, and its gradient dies). Xavier (for tanh) and Kaiming (for ReLU) keep it near 1. A negative bias pushes ReLU units below 0 for every input: they are dead, and the counter in the table goes up."),
    h("div", { class: "controls" }, field("activation", activationSelect), field("bias of every unit", biasIn), field("seed", seedIn), runButton),
    status, charts, table,
  );
  run();
  return () => client?.terminate();
}
