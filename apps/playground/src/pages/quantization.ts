import type { QuantType } from "@zero-llm/quant";
import { SafetensorsFile } from "@zero-llm/tensor";
import { QUANT_TYPES } from "../lib/quality";
import { WorkerClient } from "../lib/rpc";
import type { QuantProtocol, TypeQuality } from "../workers/quant-protocol";
import { fetchBytes } from "../lib/fetch";
import { histogram, weightStats } from "../lib/histogram";
import { KV_PRESETS, KV_TYPES, kvFormulaBytes, realKvBytes, type KvShape } from "../lib/kv";
import { lineChart, PALETTE } from "../ui/charts";
import { errorBox, field, fmt, formatBytes, h, numberInput, replace } from "../ui/dom";

/** Above this, the page computes the formula but does not allocate a real cache to compare with. */
const MAX_ALLOCATION = 512 * 1024 * 1024;

function kvCalculator(): HTMLElement {
  const shape: KvShape = { ...KV_PRESETS["the embedded model"], kType: "f32", vType: "f32" };
  const result = h("div", { "data-testid": "kv-result" });
  const inputs: Partial<Record<keyof KvShape, HTMLInputElement | HTMLSelectElement>> = {};
  const update = (): void => {
    const formula = kvFormulaBytes(shape);
    const row = shape.kvHeads * shape.headDim;
    let real: HTMLElement;
    if (formula > MAX_ALLOCATION) real = h("span", {}, `Not allocated here: above ${formatBytes(MAX_ALLOCATION)} a browser tab may refuse it.`);
    else {
      try {
        const bytes = realKvBytes(shape);
        real = h("span", {}, `A real KVCache of this shape (K ${shape.kType}, V ${shape.vType}), allocated in this page by @zero-llm/transformer, reports bytes() = `, h("b", { "data-testid": "kv-real" }, bytes.toLocaleString("en")),
          bytes === formula ? h("span", { class: "ok-text" }, " ✓ the same") : h("span", { class: "bad-text" }, " ✗ different"), ".");
      } catch (error) {
        real = errorBox(error);
      }
    }
    replace(result,
      h("p", {}, `${shape.layers} layers × ${shape.context.toLocaleString("en")} positions × (K ${KV_TYPES[shape.kType].bytesPerRow(row)} + V ${KV_TYPES[shape.vType].bytesPerRow(row)} bytes per row of ${shape.kvHeads} × ${shape.headDim} numbers) = `,
        h("b", { "data-testid": "kv-bytes" }, formula.toLocaleString("en")), ` bytes (${formatBytes(formula)}); ${formatBytes(formula / shape.context)} per token of context`,
        shape.kType === "f32" && shape.vType === "f32" ? "." : `; ${fmt((100 * formula) / kvFormulaBytes({ ...shape, kType: "f32", vType: "f32" }), 3)} % of an f32 cache.`),
      h("p", {}, real));
  };
  const num = (key: "layers" | "kvHeads" | "headDim" | "context", label: string, max: number) => {
    const el = numberInput(shape[key], { min: 1, max, step: 1, testid: `kv-${key}`, onInput: (v) => { if (Number.isInteger(v) && v >= 1 && v <= max) { shape[key] = v; update(); } } });
    inputs[key] = el;
    return field(label, el);
  };
  const typeSelect = (key: "kType" | "vType", label: string) => {
    const el = h("select", { "data-testid": `kv-${key}` }, ...Object.entries(KV_TYPES).map(([name, t]) => h("option", { value: name }, t.label)));
    el.addEventListener("change", () => { shape[key] = el.value; update(); });
    inputs[key] = el;
    return field(label, el);
  };
  const presets = Object.entries(KV_PRESETS).map(([name, p]) => h("button", { onclick: () => {
    Object.assign(shape, p);
    for (const key of ["layers", "kvHeads", "headDim", "context"] as const) (inputs[key] as HTMLInputElement).value = String(p[key]);
    update();
  } }, name));
  const box = h("div", {},
    h("div", { class: "controls" }, num("layers", "layers", 512), num("kvHeads", "KV heads", 256), num("headDim", "head size", 1024), num("context", "context (positions)", 1 << 24), typeSelect("kType", "K type"), typeSelect("vType", "V type")),
    h("div", { class: "controls" }, h("span", { class: "note" }, "presets:"), ...presets),
    result);
  update();
  return box;
}

export function render(root: HTMLElement): () => void {
  const client = new WorkerClient<QuantProtocol>(new Worker(new URL("../workers/quant.worker.ts", import.meta.url), { type: "module" }));
  const errorsBox = h("div", { "data-testid": "quant-errors" }, h("p", { class: "loading" }, "Quantizing every tensor in a Web Worker…"));
  const qualityStatus = h("p", { class: "note", "data-testid": "quality-status" }, "Quantizing the model and comparing it with the f32 one…");
  const qualityBox = h("div", { "data-testid": "quality" });
  const select = h("select", { "data-testid": "tensor" });
  const chart = h("div", { "data-testid": "histogram" });
  const table = h("div", { "data-testid": "tensor-table" }, h("p", { class: "loading" }, "Reading models/default/model.safetensors…"));
  let file: SafetensorsFile | null = null;

  const show = (): void => {
    if (!file) return;
    const values = file.tensorToFloat32(select.value);
    const st = weightStats(values);
    const { edges, counts } = histogram(values, 80, st.min, st.max);
    const pts = counts.map((c, i) => [edges[i], Math.max(c, 0.5)] as [number, number]);
    replace(chart, lineChart([{ name: select.value, points: pts, color: PALETTE[0] }], { xLabel: "weight value", yLabel: "how many (log)", logY: true, height: 260, title: `histogram of ${select.value}`, legend: false }),
      h("p", { class: "note" }, `${st.count.toLocaleString("en")} values; mean ${fmt(st.mean)}, std ${fmt(st.std)}, range ${fmt(st.min)} … ${fmt(st.max)}. The largest value is ${fmt(st.absMax / st.std, 3)} standard deviations out: a block format scales each block of 32 by its largest value, so one outlier coarsens the steps of its 31 neighbours.`));
  };
  select.addEventListener("change", show);

  fetchBytes("models/default/model.safetensors").then((bytes) => {
    const f = SafetensorsFile.parse(bytes);
    file = f;
    const names = f.tensors.map((t) => t.name).sort();
    replace(select, ...names.map((n) => h("option", { value: n }, n)));
    select.value = names.find((n) => n.includes("layers.0.mlp.down_proj")) ?? names[0];
    replace(table, h("table", {},
      h("thead", {}, h("tr", {}, ...["tensor", "shape", "values", "std", "largest |w|", "largest / std"].map((t, i) => h("th", { class: i === 0 ? "text" : "" }, t)))),
      h("tbody", {}, ...names.map((n) => {
        const st = weightStats(f.tensorToFloat32(n));
        return h("tr", {}, h("td", { class: "text" }, h("code", {}, n)), h("td", {}, f.tensorInfo(n).shape.join(" × ")), h("td", { class: "num" }, st.count.toLocaleString("en")),
          h("td", { class: "num" }, fmt(st.std)), h("td", { class: "num" }, fmt(st.absMax)), h("td", { class: "num" }, fmt(st.absMax / st.std, 3)));
      }))));
    show();
  }, (error: unknown) => replace(table, errorBox(error)));

  const types = [...QUANT_TYPES];
  client.call("errors", { types }).then(({ tensors }) => {
    const fallbacks = (t: QuantType) => [...new Set(tensors.map((row) => row.errors[t].used).filter((u) => u !== t))];
    replace(errorsBox, h("table", { "data-testid": "quant-error-table" },
      h("thead", {}, h("tr", {}, h("th", { class: "text" }, "tensor"), h("th", {}, "shape"),
        ...types.map((t) => h("th", {}, `${t}${fallbacks(t).length ? ` (→ ${fallbacks(t).join(", ")})` : ""}`)), h("th", {}, "q4_k, rows of 256"))),
      h("tbody", {}, ...tensors.map((row) => h("tr", {}, h("td", { class: "text" }, h("code", {}, row.name)), h("td", {}, row.shape.join(" × ")),
        ...types.map((t) => h("td", { class: "num", "data-testid": `err-${row.name}-${t}` }, `${(100 * row.errors[t].relativeRmse).toPrecision(3)} %`)),
        h("td", { class: "num", "data-testid": `err-${row.name}-q4_k-256` }, row.q4kRows256 === null ? "–" : `${(100 * row.q4kRows256).toPrecision(3)} %`))))));
  }, (error: unknown) => replace(errorsBox, errorBox(error)));

  // One row per type from the start, each filled in when the worker reports it: the table keeps its
  // height, so the calculator below it does not move under the reader's pointer as results arrive.
  const rows = new Map<QuantType, TypeQuality>();
  const columns = ["type", "stored as", "projection bytes", "perplexity f32", "perplexity", "change", "KLD mean", "KLD p99", "top-1 agreement"];
  const drawQuality = (f32Bytes: number | null) => replace(qualityBox, h("table", { "data-testid": "quality-table" },
    h("thead", {}, h("tr", {}, ...columns.map((t, i) => h("th", { class: i < 2 ? "text" : "" }, t)))),
    h("tbody", {}, ...types.map((type) => {
      const r = rows.get(type);
      if (!r) return h("tr", { "data-type": type, class: "loading" }, h("td", { class: "text" }, type), ...columns.slice(1).map((_, i) => h("td", { class: i === 0 ? "text" : "num" }, "…")));
      const s = r.summary;
      return h("tr", { "data-type": r.type }, h("td", { class: "text" }, r.type), h("td", { class: "text" }, r.used.join(", ")),
        h("td", { class: "num" }, f32Bytes ? `${formatBytes(r.projectionBytes)} (${fmt((100 * r.projectionBytes) / f32Bytes, 3)} %)` : formatBytes(r.projectionBytes)),
        h("td", { class: "num" }, s.perplexityBase.toFixed(3)), h("td", { class: "num", "data-testid": `ppl-${r.type}` }, s.perplexity.toFixed(3)),
        h("td", { class: "num" }, `${((100 * (s.perplexity - s.perplexityBase)) / s.perplexityBase).toFixed(2)} %`),
        h("td", { class: "num", "data-testid": `kld-${r.type}` }, s.kldMean.toExponential(2)), h("td", { class: "num" }, s.kldP99.toExponential(2)),
        h("td", { class: "num", "data-testid": `top1-${r.type}` }, `${(100 * s.top1Agreement).toFixed(2)} %`));
    }))));
  drawQuality(null);
  client.call("quality", { types, maxTokens: 1536 }, (row) => {
    rows.set(row.type, row);
    drawQuality(null);
  }).then((r) => {
    drawQuality(r.f32ProjectionBytes);
    replace(qualityStatus, `${r.tokens.toLocaleString("en")} held-out tokens in windows of 512, computed in ${(r.ms / 1000).toFixed(1)} s on the ${r.backend} backend. The f32 projections take ${formatBytes(r.f32ProjectionBytes)}.`);
  }, (error: unknown) => replace(qualityStatus, errorBox(error)));

  root.append(
    h("h1", {}, "Quantization and memory"),
    h("p", { class: "lede" },
      "A model's memory is its weights plus its KV cache. Quantization stores weights in fewer bits: blocks of 32 numbers share one scale, and each number becomes a small integer times it (Q8_0: 8 bits, Q4_0: 4). ",
      "The error this adds depends on how the values are spread inside each block, which is why the shape of the weights' distribution matters."),
    h("h2", {}, "The embedded model's weights"),
    h("div", { class: "controls" }, field("tensor", select)),
    chart,
    h("details", {}, h("summary", {}, "every tensor: shape, spread, largest value"), table),
    h("h2", {}, "Error per tensor"),
    h("p", {}, "Each matrix quantized and dequantized with @zero-llm/quant (the bytes ggml writes), and the error's RMS relative to the weights' RMS. Q4_K packs blocks of 256: this model's rows of 128 and 384 values are not whole 256-blocks, so Q4_K falls back to Q4_1 here as llama.cpp's llama-quantize does (the table says so). The last column is Q4_K proper on the same values laid out in rows of 256: its 6-bit scale and minimum per 32 values, themselves quantized against one f16 pair per 256, come out below Q4_1's error, at 4.5 bits a value instead of 5."),
    errorsBox,
    h("h2", {}, "Perplexity and top-1 agreement per type"),
    h("p", {}, "The whole model with every projection stored in the type and multiplied from its blocks (no f32 copy), against the f32 model on held-out Brown text the model never trained on (the corpus's last document): perplexity of both, the KL divergence of the next-token distributions (in nats, as llama.cpp's perplexity --kl-divergence reports it) and how often both pick the same most likely token."),
    qualityStatus, qualityBox,
    h("h2", {}, "KV-cache calculator"),
    h("p", {}, "Every generated token leaves a key and a value vector in every layer; the cache grows linearly with the context and is what limits how many sequences a server can hold. Grouped-query attention (fewer KV heads than query heads) shrinks it directly."),
    kvCalculator(),
  );
  return () => client.terminate();
}
