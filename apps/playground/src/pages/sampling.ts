import { DEFAULT_CHAIN, type ChainSettings } from "../lib/chain";
import { WorkerClient } from "../lib/rpc";
import { barChart } from "../ui/charts";
import { errorBox, field, fmt, h, numberInput, replace } from "../ui/dom";
import type { ModelProtocol } from "../workers/model-protocol";

const DEFAULT_SCHEMA = JSON.stringify({
  type: "object",
  properties: { name: { type: "string", maxLength: 12 }, age: { type: "integer", minimum: 0, maximum: 120 } },
  required: ["name", "age"],
}, null, 1);

const SPECULATIVE_PROMPT = "The jury said that the city of Atlanta had been paid. The jury said that the city of Atlanta had been paid. The jury said that the city";

const shown = (piece: string) => JSON.stringify(piece).slice(1, -1);

export function render(root: HTMLElement): () => void {
  const client = new WorkerClient<ModelProtocol>(new Worker(new URL("../workers/model.worker.ts", import.meta.url), { type: "module" }));
  const settings: ChainSettings = { ...DEFAULT_CHAIN };
  const promptIn = h("input", { type: "text", value: "The jury said", size: 50, "data-testid": "prompt", "aria-label": "prompt" });
  const control = (key: keyof ChainSettings, label: string, opts: { min: number; max: number; step: number }, hint?: string) =>
    field(label, numberInput(settings[key], { ...opts, testid: `set-${key}`, onInput: (v) => { settings[key] = v; schedule(); } }), hint);
  const useSchema = h("input", { type: "checkbox", "data-testid": "use-schema" });
  const schemaIn = h("textarea", { rows: 5, "data-testid": "schema", "aria-label": "JSON Schema", style: "font-family: monospace" }, DEFAULT_SCHEMA);
  const maskInfo = h("p", { "data-testid": "mask-info", class: "note" }, "No constraint: every token may come next.");
  const chart = h("div", { "data-testid": "distribution" });
  const tableBox = h("div", { "data-testid": "chain-table" });
  const check = h("p", { class: "note", "data-testid": "chain-check" });
  const status = h("p", { class: "note" }, "Loading the embedded model in a Web Worker…");

  const schema = () => (useSchema.checked ? schemaIn.value : null);

  let ticket = 0;
  const refresh = async (): Promise<void> => {
    const mine = ++ticket;
    try {
      const view = await client.call("distribution", { prompt: promptIn.value, settings: { ...settings }, schema: schema(), watch: 20 });
      if (mine !== ticket) return;
      const final = view.stages[view.stages.length - 1];
      replace(chart, barChart(view.watched.map((_id, i) => ({
        label: `“${shown(view.pieces[i])}”`,
        value: view.stages[0].probs[i],
        color: final.probs[i] > 0 ? "#16a34a" : "#9ca3af",
        muted: final.probs[i] === 0,
        note: final.probs[i] > 0 ? `→ ${fmt(final.probs[i], 3)}` : "removed",
      })), { label: "the model's next-token probabilities; green tokens survive the chain, with their final probability", format: (v) => fmt(v, 3) }));
      replace(tableBox, h("table", {},
        h("thead", {}, h("tr", {}, h("th", { class: "text" }, "token"), h("th", {}, "id"), ...view.stages.map((st) => h("th", {}, st.name)))),
        h("tbody", {},
          h("tr", {}, h("td", { class: "text" }, h("i", {}, "tokens left")), h("td", {}), ...view.stages.map((st, k) => h("td", { class: "num", "data-testid": `survivors-${k}` }, st.survivors.toLocaleString("en")))),
          ...view.watched.map((id, i) => h("tr", {},
            h("td", { class: "text" }, h("code", {}, shown(view.pieces[i]))), h("td", { class: "num" }, id),
            ...view.stages.map((st, k) => h("td", { class: `num${st.probs[i] === 0 ? " bad-text" : ""}`, "data-testid": k === view.stages.length - 1 ? `final-${i}` : undefined }, st.probs[i] === 0 ? "✗" : st.probs[i].toFixed(4))))))));
      replace(check, "The same processors the Sampler runs, applied one at a time; the last column differs from Sampler.probabilities() by at most ",
        h("b", { "data-testid": "chain-diff" }, view.maxDiffFromSampler.toExponential(1)), ".");
      replace(maskInfo, view.allowedCount === null ? "No constraint: every token may come next."
        : h("span", {}, h("b", { "data-testid": "allowed-count" }, view.allowedCount), ` of ${view.vocabSize} tokens may start an output that can still match the schema (compiled for this vocabulary in ${fmt(view.compileMs ?? 0, 3)} ms); the mask runs first in the chain, so the other steps choose among these.`));
      replace(status);
    } catch (error) {
      if (mine === ticket) replace(status, errorBox(error));
    }
  };
  let timer = 0;
  const schedule = () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => void refresh(), 150);
  };
  promptIn.addEventListener("input", schedule);
  useSchema.addEventListener("change", schedule);
  schemaIn.addEventListener("change", schedule);

  // generate with a seed
  const seedIn = numberInput(1, { min: 0, step: 1, testid: "seed" });
  const maxIn = numberInput(100, { min: 1, max: 400, step: 1, testid: "max-tokens" });
  const genButton = h("button", { class: "primary", "data-testid": "generate" }, "Generate");
  const genOut = h("div", { class: "tokens", "data-testid": "generated" });
  const genStats = h("p", { class: "note", "data-testid": "generate-stats" });
  genButton.addEventListener("click", () => {
    genButton.disabled = true;
    replace(genOut, h("b", {}, promptIn.value));
    replace(genStats, "Generating…");
    client.call("generate", { prompt: promptIn.value, settings: { ...settings }, seed: Math.round(seedIn.valueAsNumber), maxTokens: Math.round(maxIn.valueAsNumber), schema: schema() },
      (t) => genOut.append(h("span", { class: "tok generated", title: `id ${t.id}`, "data-id": t.id }, t.piece)),
    ).then((r) => replace(genStats, `${r.ids.length} tokens, stop: ${r.stopReason}, ${fmt(r.tokensPerSecond, 3)} tokens/s. Ids: `, h("code", { "data-testid": "generated-ids" }, r.ids.join(" "))),
      (error: unknown) => replace(genStats, errorBox(error))).finally(() => (genButton.disabled = false));
  });

  // speculative decoding with prompt lookup
  const specPrompt = h("textarea", { rows: 3, "data-testid": "spec-prompt", "aria-label": "prompt for speculative decoding" }, SPECULATIVE_PROMPT);
  const draftIn = numberInput(6, { min: 1, max: 16, step: 1, testid: "draft-max" });
  const ngramIn = numberInput(3, { min: 1, max: 8, step: 1, testid: "ngram" });
  const specTemp = numberInput(0, { min: 0, max: 2, step: 0.1, testid: "spec-temperature" });
  const drafterIn = h("select", { "data-testid": "drafter" },
    h("option", { value: "lookup" }, "prompt lookup (n-gram)"),
    h("option", { value: "q4_0" }, "a draft model: this model in Q4_0"));
  const specButton = h("button", { class: "primary", "data-testid": "speculate" }, "Decode speculatively");
  const specOut = h("div", { class: "tokens", "data-testid": "spec-out" });
  const specStats = h("p", { "data-testid": "spec-stats" });
  specButton.addEventListener("click", () => {
    specButton.disabled = true;
    replace(specStats, "Decoding…");
    const drafter = drafterIn.value === "q4_0" ? "q4_0" : "lookup";
    client.call("speculative", { prompt: specPrompt.value, maxTokens: 40, drafter, draftMax: Math.round(draftIn.valueAsNumber), ngram: Math.round(ngramIn.valueAsNumber), temperature: specTemp.valueAsNumber || 0, seed: 1 }).then((r) => {
      replace(specOut, ...r.rounds.flatMap((round) => [
        ...round.drafts.map((t, i) => h("span", { class: `tok ${i < round.accepted ? "accepted" : "rejected"}`, title: `draft ${i + 1} of ${round.drafts.length}: ${i < round.accepted ? "accepted" : "rejected"} (id ${t.id})` }, t.piece)),
        round.next ? h("span", { class: "tok corrected", title: `the target's own token (id ${round.next.id}): ${round.accepted < round.drafts.length ? "a correction" : "the bonus after all drafts"}` }, round.next.piece) : null,
        h("span", { class: "note", "aria-hidden": "true" }, "│"),
      ]));
      replace(specStats, `${r.drafted} tokens drafted by ${drafter === "lookup" ? "prompt lookup" : "the Q4_0 draft model"}, `, h("b", { "data-testid": "spec-accepted" }, r.acceptedTotal), ` accepted (${fmt((100 * r.acceptedTotal) / Math.max(1, r.drafted), 3)}%); ${r.ids.length} tokens in `,
        h("b", { "data-testid": "spec-passes" }, r.passes), ` target passes instead of ${r.ids.length} (${fmt(r.ms, 3)} ms against ${fmt(r.plainMs, 3)} ms decoding one token per pass). Same tokens as plain decoding: `,
        h("b", { "data-testid": "spec-same", class: r.sameAsPlain ? "ok-text" : "bad-text" }, r.sameAsPlain ? "yes" : "no"), ".");
    }, (error: unknown) => replace(specStats, errorBox(error))).finally(() => (specButton.disabled = false));
  });

  root.append(
    h("h1", {}, "Sampling: from logits to a token"),
    h("p", { class: "lede" },
      "The model gives a score to every token of its vocabulary; softmax turns the scores into a distribution. Sampling then reshapes it step by step, in llama.cpp's order: penalties for repeated tokens, top-k keeps the k most likely, top-p the smallest set holding p of the mass, min-p those at least p × the top one, and temperature sharpens (below 1) or flattens (above 1) what is left before one token is drawn with a seeded generator."),
    h("div", { class: "controls" }, field("prompt", promptIn)),
    h("div", { class: "controls" },
      control("temperature", "temperature", { min: 0, max: 2, step: 0.05 }),
      control("topK", "top-k", { min: 0, max: 2048, step: 1 }, "0 = off"),
      control("topP", "top-p", { min: 0.01, max: 1, step: 0.01 }, "1 = off"),
      control("minP", "min-p", { min: 0, max: 1, step: 0.01 }, "0 = off"),
      control("repetitionPenalty", "repetition penalty", { min: 0.5, max: 3, step: 0.05 }),
      control("presencePenalty", "presence penalty", { min: -2, max: 2, step: 0.1 }),
      control("frequencyPenalty", "frequency penalty", { min: -2, max: 2, step: 0.1 })),
    status,
    h("h2", {}, "The next-token distribution"),
    chart,
    h("h2", {}, "Which tokens survive each step"),
    h("p", { class: "note" }, "The 20 tokens the model finds most likely, and their probability renormalised over the survivors after each step of the chain (✗: removed). Penalties count the prompt's tokens."),
    tableBox, check,
    h("h2", {}, "A JSON Schema as a mask"),
    h("p", {}, "A schema compiles, for this vocabulary, into an automaton that says at every step which tokens keep the output valid. Those tokens stay; every other logit becomes −∞ before the chain runs."),
    h("div", { class: "controls" }, h("label", {}, useSchema, " constrain the output to this schema")),
    schemaIn, maskInfo,
    h("h2", {}, "Generate with a seed"),
    h("p", { class: "note" }, "The same seed, prompt and settings give the same tokens in this browser, in Node and in the server (one seeded generator, portable exp and log)."),
    h("div", { class: "controls" }, field("seed", seedIn), field("new tokens", maxIn), genButton),
    genOut, genStats,
    h("h2", {}, "Speculative decoding"),
    h("p", {}, "A cheap drafter proposes several tokens; the model checks them all in one forward pass and keeps the longest prefix it agrees with, plus one token of its own. The drafter is prompt lookup (it copies what followed the last n tokens earlier in the text) or a draft model: here this very model with its matrices in Q4_0, which agrees with it on the most likely token about 90 % of the time (see the quantization page). The rounds run through the transformer's own speculative path (generate with a draft). Green drafts were accepted, red ones rejected, yellow tokens are the model's own (a correction or the bonus); │ separates rounds. The output is exactly what plain decoding gives (with temperature above 0, it follows the same distribution). On a model this small, one pass over 7 tokens costs nearly 7 single-token passes (its 4 MB of weights sit in cache, so a pass is bound by arithmetic, not by reading the weights): speculation saves target passes but not time here (the figures below say how much each way), the more so with a draft model as large as the target; it pays off when every pass must stream the weights from memory and the draft is much smaller than the target."),
    specPrompt,
    h("div", { class: "controls" }, field("drafter", drafterIn), field("draft at most", draftIn), field("n-gram", ngramIn), field("temperature", specTemp), specButton),
    specOut, specStats,
  );
  client.call("load", null).then(() => refresh(), (error: unknown) => replace(status, errorBox(error)));
  return () => {
    clearTimeout(timer);
    client.terminate();
  };
}
