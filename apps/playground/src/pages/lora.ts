import { fetchText } from "../lib/fetch";
import { ADAPTER_DIR, heldOutPairs, question } from "../lib/lora";
import { WorkerClient } from "../lib/rpc";
import { PALETTE, lineChart, pairedBars, signedHeatmap } from "../ui/charts";
import { errorBox, field, fmt, h, numberInput, replace } from "../ui/dom";
import type { AdapterFiles, LayerView, LoraProtocol, ScalePoint } from "../workers/lora-protocol";

/** Whether models/addition-lora was there when the app was built (vite.config.ts defines it). */
declare const __ADAPTER_SHIPPED__: boolean;
/** Whether its training log (loss.csv) was there too. */
declare const __ADAPTER_LOSS__: boolean;

/** The scales the sweep measures (0: the base model, bit for bit; 1: the adapter as trained). */
const SWEEP_SCALES = [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2];
/** Held-out pairs the sweep scores per scale. */
const SWEEP_PAIRS = 40;

const shown = (piece: string) => JSON.stringify(piece).slice(1, -1);

/** The training run's loss.csv (step,loss,lr,grad_norm,tokens_per_s,val_loss): training and validation loss per step. */
function parseLossCsv(text: string): { train: Array<[number, number]>; val: Array<[number, number]> } {
  const [header = "", ...lines] = text.trim().split("\n");
  const columns = header.split(",");
  const at = (name: string) => columns.indexOf(name);
  const train: Array<[number, number]> = [], val: Array<[number, number]> = [];
  for (const line of lines) {
    const cells = line.split(",");
    const step = Number(cells[at("step")]), loss = Number(cells[at("loss")]), v = at("val_loss") >= 0 ? cells[at("val_loss")] : "";
    if (Number.isFinite(step) && Number.isFinite(loss)) train.push([step, loss]);
    if (v !== undefined && v !== "" && Number.isFinite(Number(v))) val.push([step, Number(v)]);
  }
  return { train, val };
}

/**
 * ΔW = (α/r)·B·A drawn as a matrix product: A [r, in] above ΔW, B [out, r] to its left, so each
 * cell of ΔW sits at the crossing of its row of B and its column of A. W beside it, same scale
 * of cells; each map's colours run from −max|·| (red) to +max|·| (blue) of that matrix.
 */
function layerFigure(v: LayerView): HTMLElement {
  const cell = Math.max(1, Math.floor(256 / Math.max(v.rows, v.cols)));
  const maxAbs = (x: Float32Array) => x.reduce((m, y) => Math.max(m, Math.abs(y)), 0);
  const caption = (text: string, x: Float32Array) => h("figcaption", {}, text, h("br"), h("small", {}, `±${fmt(maxAbs(x), 3)}`));
  const params = v.rank * (v.rows + v.cols), full = v.rows * v.cols;
  return h("div", {},
    h("div", { class: "matmul" },
      h("figure", { class: "mm-w" }, signedHeatmap(v.w, v.rows, v.cols, { cell, label: `W, ${v.rows} × ${v.cols}` }), caption(`W  [${v.rows} × ${v.cols}] (frozen)`, v.w)),
      h("div", { class: "mm-op" }, "+"),
      h("figure", { class: "mm-a" }, signedHeatmap(v.a, v.rank, v.cols, { cell, label: `A, ${v.rank} × ${v.cols}` }), caption(`A  [${v.rank} × ${v.cols}]`, v.a)),
      h("figure", { class: "mm-b" }, signedHeatmap(v.b, v.rows, v.rank, { cell, label: `B, ${v.rows} × ${v.rank}` }), caption(`B  [${v.rows} × ${v.rank}]`, v.b)),
      h("figure", { class: "mm-d" }, signedHeatmap(v.delta, v.rows, v.cols, { cell, label: `ΔW, ${v.rows} × ${v.cols}`, testid: "delta-map" }), caption(`ΔW = ${fmt(v.scaling, 3)} · B·A  [${v.rows} × ${v.cols}]`, v.delta))),
    h("p", {},
      `‖ΔW‖ / ‖W‖ = `, h("b", { "data-testid": "delta-ratio" }, fmt(v.normDelta / v.normW, 3)),
      ` (Frobenius norms: ‖ΔW‖ = `, h("b", { "data-testid": "delta-norm" }, fmt(v.normDelta, 6)), `, ‖W‖ = ${fmt(v.normW, 4)}). `,
      `The update has rank at most ${v.rank}: it is stored as ${params.toLocaleString("en")} numbers (r × (out + in)) instead of ${full.toLocaleString("en")} (out × in), ${fmt((100 * params) / full, 3)} %.`),
    h("p", { class: "note" }, "ΔW computed here with @zero-llm/tensor's matmul; @zero-llm/lora's mergedWeights (what zllm lora merge writes) minus W differs from it by at most ",
      h("b", { "data-testid": "merge-diff" }, v.mergeDiff.toExponential(1)), " (float32 rounding)."));
}

export function render(root: HTMLElement): () => void {
  const client = new WorkerClient<LoraProtocol>(new Worker(new URL("../workers/lora.worker.ts", import.meta.url), { type: "module" }));
  const status = h("p", { class: "note", "data-testid": "lora-status" }, "Loading the embedded model and the adapter in a Web Worker…");
  const lossBox = h("div", { "data-testid": "lora-loss" });
  const weightSelect = h("select", { "data-testid": "lora-weight" });
  const layerBox = h("div", { "data-testid": "lora-layer" });
  const [a0, b0] = heldOutPairs(1)[0] ?? [23, 48];
  // ending with the answer's leading space: the next token is the first digit, where the adapter's knowledge shows
  const promptIn = h("input", { type: "text", value: `${question(a0, b0)} `, size: 28, "data-testid": "lora-prompt", "aria-label": "prompt" });
  const scaleRange = h("input", { type: "range", min: 0, max: 2, step: 0.05, value: 1, "data-testid": "lora-scale-range", "aria-label": "adapter scale" });
  const scaleIn = numberInput(1, { min: -2, max: 4, step: 0.05, testid: "lora-scale" });
  const distBox = h("div", { "data-testid": "lora-distribution" });
  const answers = h("div", { "data-testid": "lora-answers" });
  const sweepBox = h("div", { "data-testid": "lora-sweep" });
  const sweepNote = h("p", { class: "note", "data-testid": "lora-sweep-note" });

  const dropNote = h("div", { "data-testid": "adapter-drop-note" });
  const fileIn = h("input", { type: "file", multiple: true, accept: ".json,.safetensors", "data-testid": "adapter-files", "aria-label": "a PEFT adapter's adapter_config.json and adapter_model.safetensors" });

  const showLayer = async (): Promise<void> => {
    replace(layerBox, h("p", { class: "loading" }, "Multiplying B·A…"));
    try {
      replace(layerBox, layerFigure(await client.call("layer", { weight: weightSelect.value })));
    } catch (error) {
      replace(layerBox, errorBox(error));
    }
  };
  weightSelect.addEventListener("change", () => void showLayer());

  let ticket = 0;
  const showDistribution = async (): Promise<void> => {
    const mine = ++ticket;
    const scale = scaleIn.valueAsNumber;
    if (!Number.isFinite(scale)) return;
    try {
      const d = await client.call("distribution", { prompt: promptIn.value, scale });
      if (mine !== ticket) return;
      replace(distBox, pairedBars(d.tokens.map((t) => ({ label: `“${shown(t.piece)}”`, values: [t.base, t.adapted] as const })),
        { names: ["adapter off (the base model)", `adapter on, scale ${fmt(scale, 3)}`], max: 1, format: (v) => fmt(v, 3), label: "next-token probabilities without and with the adapter" }));
      const verdict = (text: string) => d.expected === null ? null
        : text === d.expected ? h("span", { class: "ok-text" }, " ✓") : h("span", { class: "bad-text" }, ` ✗ (“${shown(d.expected)}”)`);
      replace(answers,
        h("p", {}, "Greedy answer, adapter off: ", h("code", { "data-testid": "answer-base" }, shown(d.answerBase)), verdict(d.answerBase),
          "; on: ", h("code", { "data-testid": "answer-adapted" }, shown(d.answerAdapted)), verdict(d.answerAdapted), "."),
        h("p", { class: "note" }, "The distribution moved by KL(off ‖ on) = ", h("b", { "data-testid": "lora-kl" }, fmt(d.kl, 4)), " nats; the top token now has probability ",
          h("b", { "data-testid": "lora-top" }, fmt(d.tokens[0]?.adapted ?? 0, 6)), "."));
    } catch (error) {
      if (mine === ticket) replace(distBox, errorBox(error));
    }
  };
  scaleRange.addEventListener("input", () => {
    scaleIn.value = scaleRange.value;
    void showDistribution();
  });
  scaleIn.addEventListener("input", () => {
    if (Number.isFinite(scaleIn.valueAsNumber)) scaleRange.value = String(scaleIn.valueAsNumber);
    void showDistribution();
  });
  promptIn.addEventListener("keydown", (e) => { if (e.key === "Enter") void showDistribution(); });

  const sweep = async (): Promise<void> => {
    const points: ScalePoint[] = [];
    const draw = () => replace(sweepBox, lineChart([
      { name: `exact answers (greedy), ${SWEEP_PAIRS} held-out sums`, points: points.map((p) => [p.scale, p.accuracy] as [number, number]), color: PALETTE[0] },
      { name: "probability of the whole right answer (mean)", points: points.map((p) => [p.scale, p.correctProbability] as [number, number]), color: PALETTE[2] },
    ], { xLabel: "adapter scale (0 = the base model, 1 = as trained)", yLabel: "fraction / probability", dots: true, height: 280, xRange: [0, 2], yRange: [0, 1] }));
    replace(sweepNote, "Measuring…");
    try {
      const r = await client.call("sweep", { scales: SWEEP_SCALES, pairs: SWEEP_PAIRS }, (p) => {
        points.push(p);
        draw();
      });
      const at = (s: number) => r.points.find((p) => p.scale === s);
      const best = r.points.reduce((b, p) => (p.accuracy > b.accuracy ? p : b), r.points[0] ?? { scale: 0, accuracy: 0, correctProbability: 0 });
      replace(sweepNote, `${SWEEP_PAIRS} sums the adapter never trained on (the first of its recipe's 810 held-out pairs), answered greedily at each scale in ${fmt(r.ms / 1000, 3)} s. Without the adapter `,
        h("b", { "data-testid": "accuracy-0" }, `${fmt(100 * (at(0)?.accuracy ?? 0), 3)} %`), " are right; with it at scale 1, ",
        h("b", { "data-testid": "accuracy-1" }, `${fmt(100 * (at(1)?.accuracy ?? 0), 3)} %`),
        `. The scale multiplies ΔW: 0 is the base model bit for bit, 1 the update as trained; here the most sums come out right at scale ${fmt(best.scale, 3)} (${fmt(100 * best.accuracy, 3)} %).`);
    } catch (error) {
      replace(sweepNote, errorBox(error));
    }
  };

  const load = async (files: AdapterFiles | null): Promise<void> => {
    replace(status, files ? `Reading ${files.source}…` : "Loading the embedded model and the adapter in a Web Worker…");
    try {
      const i = await client.call("load", { files });
      replace(status,
        `The adapter (${i.source}, a PEFT adapter directory): rank r = `, h("b", { "data-testid": "lora-r" }, i.r), `, α = ${i.alpha}, so every update is scaled by ${i.rsLora ? "α/√r" : "α/r"} = ${fmt(i.scaling, 4)}; targets ${i.targets} (${i.weights.length} matrices). `,
        h("b", { "data-testid": "lora-params" }, i.parameters.toLocaleString("en")), ` trainable numbers, ${fmt((100 * i.parameters) / i.baseParameters, 3)} % of the base's ${i.baseParameters.toLocaleString("en")}. `,
        `Loaded with the model in ${fmt(i.ms, 3)} ms on the ${i.backend} backend.`);
      replace(weightSelect, ...i.weights.map((w) => h("option", { value: w.weight }, `${w.weight}  [${w.rows} × ${w.cols}]`)));
      weightSelect.value = i.weights.find((w) => w.weight.includes("layers.0.self_attn.v_proj"))?.weight ?? i.weights[0]?.weight ?? "";
      await showLayer();
      await showDistribution();
      await sweep();
    } catch (error) {
      replace(status, errorBox(error));
    }
  };

  fileIn.addEventListener("change", () => {
    const chosen = [...(fileIn.files ?? [])];
    const config = chosen.find((f) => f.name.endsWith(".json")), weights = chosen.find((f) => f.name.endsWith(".safetensors"));
    replace(dropNote);
    if (chosen.length === 0) return;
    if (!config || !weights) {
      replace(dropNote, errorBox(new Error(`adapter files: expected adapter_config.json and adapter_model.safetensors (a PEFT adapter directory's two files), found ${chosen.map((f) => f.name).join(", ")}`)));
      return;
    }
    void Promise.all([config.text(), weights.arrayBuffer()]).then(([configText, bytes]) => load({ configText, safetensors: new Uint8Array(bytes), source: `${config.name} + ${weights.name}` }));
  });

  if (__ADAPTER_SHIPPED__) {
    if (__ADAPTER_LOSS__) fetchText(`${ADAPTER_DIR}/loss.csv`).then((text) => {
      const { train, val } = parseLossCsv(text);
      replace(lossBox, lineChart([
        { name: "training loss (answer tokens only)", points: train, color: PALETTE[0] },
        ...(val.length ? [{ name: "validation loss", points: val, color: PALETTE[1], dashed: true }] : []),
      ], { xLabel: "step", yLabel: "loss (nats)", logY: true, height: 240, title: "the adapter's training run" }));
    }, (error: unknown) => replace(lossBox, errorBox(error)));
    void load(null);
  } else {
    replace(status, h("span", { class: "panel", "data-testid": "no-shipped-adapter" }, `This build has no shipped adapter (${ADAPTER_DIR} was missing when it was built): choose a PEFT adapter's two files below, for example a run directory of zllm lora train.`));
  }

  root.append(
    h("h1", {}, "LoRA: a low-rank update"),
    h("p", { class: "lede" },
      "Fine-tuning every weight of a model means storing a second copy of it. LoRA freezes the weight W and learns a small update beside it: ΔW = (α/r)·B·A, where A has r rows and B has r columns, with r far below the layer's width. ",
      "The layer computes W·x + (α/r)·B·(A·x): a few per cent of the parameters, an adapter of a few hundred kilobytes, and the base untouched, so adapters switch per request or scale up and down."),
    h("p", {}, "The embedded model learned English from the Brown corpus and cannot add. The shipped adapter taught it two-digit sums in one template, ", h("code", {}, "Q: 23 + 48 = ? A: 71"), ", training only A and B on 7,290 examples."),
    status,
    lossBox,
    h("div", { class: "controls" }, field("another adapter (its adapter_config.json and adapter_model.safetensors)", fileIn)), dropNote,
    h("h2", {}, "One layer's update"),
    h("div", { class: "controls" }, field("adapted weight", weightSelect)),
    layerBox,
    h("h2", {}, "The next token, with the adapter off and on"),
    h("p", { class: "note" }, "The same prompt through the base model and through the base with the adapter (a LoraModel over the very same weight arrays: each adapted projection adds scale·(α/r)·B·(A·x)). The scale is llama.cpp's --lora-scaled: 0 is the base model exactly."),
    h("div", { class: "controls" }, field("prompt", promptIn), field("scale", scaleRange), field("", scaleIn)),
    distBox, answers,
    h("h2", {}, "Turning the adapter up and down"),
    sweepBox, sweepNote,
  );
  return () => client.terminate();
}
