import { DEFAULT_SETUP, type TrainingSetup } from "../lib/training";
import { WorkerClient } from "../lib/rpc";
import { lineChart, PALETTE } from "../ui/charts";
import { errorBox, field, fmt, h, numberInput, replace } from "../ui/dom";
import type { TrainingProtocol } from "../workers/training-protocol";

/** Our own text, long enough for a few hundred steps of a tiny model (paste anything instead). */
const DEFAULT_TEXT = [
  "The river runs past the old mill and under the stone bridge. In the morning the baker opens his shop, and the smell of bread fills the street.",
  "Children walk to the school by the river. The teacher writes the date on the board and asks who has read the story of the fox and the crow.",
  "The fox saw the crow on a branch with a piece of cheese. The fox said that the crow had the finest voice in the wood. The crow began to sing, and the cheese fell.",
  "In the afternoon the market is full. The farmer sells apples and pears, the fisher sells fish from the river, and the baker sells the last of his bread.",
  "When the sun goes down the mill is quiet. The miller sits by the door and counts the sacks of flour. Tomorrow the carts will take them to the town.",
  "The town has a square with a clock. The clock strikes every hour, and the people in the square look up to see the time. The river runs on past the mill.",
].join(" ").concat(" ").repeat(3).trim();

const download = (bytes: Uint8Array, name: string): void => {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
};

export function render(root: HTMLElement): () => void {
  let client: WorkerClient<TrainingProtocol> | null = null;
  const setup: Omit<TrainingSetup, "text"> = { ...DEFAULT_SETUP };
  const textIn = h("textarea", { rows: 6, "data-testid": "text", "aria-label": "training text" }, DEFAULT_TEXT);
  const knob = (key: keyof typeof setup, label: string, opts: { min: number; max: number; step: number | "any" }) =>
    field(label, numberInput(setup[key], { ...opts, testid: `set-${key}`, onInput: (v) => { setup[key] = v; } }));
  const trainButton = h("button", { class: "primary", "data-testid": "train" }, "Train");
  const pauseButton = h("button", { disabled: true, "data-testid": "pause" }, "Pause");
  const stopButton = h("button", { disabled: true, "data-testid": "stop" }, "Stop");
  const ckptButton = h("button", { disabled: true, "data-testid": "download" }, "Download checkpoint");
  const ggufButton = h("button", { disabled: true, "data-testid": "download-gguf" }, "Download as GGUF");
  const info = h("p", { class: "note", "data-testid": "train-info" });
  const stats = h("p", { "data-testid": "train-stats" }, "Not started.");
  const chart = h("div", { "data-testid": "loss-chart" });
  const samples = h("div", { "data-testid": "samples" });
  const trainLoss: [number, number][] = [], valLoss: [number, number][] = [];
  let paused = false;
  let drawn = 0;

  const draw = (steps: number) => replace(chart, lineChart([
    { name: "training loss", points: trainLoss, color: PALETTE[0] },
    { name: "validation loss", points: valLoss, color: PALETTE[1] },
  ], { xLabel: "step", yLabel: "cross-entropy (nats)", height: 280, xRange: [0, steps], dots: false }));

  trainButton.addEventListener("click", () => {
    client?.terminate();
    client = new WorkerClient<TrainingProtocol>(new Worker(new URL("../workers/training.worker.ts", import.meta.url), { type: "module" }));
    const c = client;
    trainLoss.length = 0;
    valLoss.length = 0;
    replace(samples);
    paused = false;
    pauseButton.textContent = "Pause";
    for (const b of [pauseButton, stopButton, ckptButton, ggufButton]) b.disabled = false;
    trainButton.disabled = true;
    replace(stats, "Training a BPE on the text and building the model…");
    const steps = Math.round(setup.steps);
    c.call("train", { ...setup, steps, text: textIn.value }, (e) => {
      switch (e.kind) {
        case "ready":
          replace(info, `${e.tokens.toLocaleString("en")} tokens of text (a BPE of ${e.vocabSize} tokens trained on it in ${fmt(e.tokenizerMs, 3)} ms), a Llama of ${e.parameters.toLocaleString("en")} parameters, training on the ${e.backend} backend in a Web Worker.`);
          break;
        case "step":
          trainLoss.push([e.step, e.loss]);
          replace(stats, `step `, h("b", { "data-testid": "step" }, e.step), ` of ${steps}: loss `, h("b", { "data-testid": "loss" }, e.loss.toFixed(4)),
            `, learning rate ${fmt(e.lr, 3)}, `, h("b", { "data-testid": "tokens-per-second" }, fmt(e.tokensPerSecond, 3)), " tokens/s");
          if (e.step - drawn >= 5 || e.step === 1) {
            drawn = e.step;
            draw(steps);
          }
          break;
        case "eval":
          valLoss.push([e.step, e.valLoss]);
          draw(steps);
          break;
        case "sample":
          samples.prepend(h("p", { class: "sample" }, h("b", {}, `step ${e.step}: `), h("span", { class: "mono" }, e.text)));
          break;
        case "paused":
          stats.append(h("span", { "data-testid": "paused" }, " — paused"));
          break;
        case "resumed":
          break;
      }
    }).then((r) => {
      draw(steps);
      stats.append(h("span", { "data-testid": "done" }, ` — ${r.stopped ? "stopped" : "done"} after ${r.steps} steps in ${(r.ms / 1000).toFixed(1)} s; validation loss ${fmt(r.valLoss, 4)}.`));
    }, (error: unknown) => replace(stats, errorBox(error))).finally(() => {
      trainButton.disabled = false;
      pauseButton.disabled = true;
      stopButton.disabled = true;
    });
  });
  pauseButton.addEventListener("click", () => {
    paused = !paused;
    client?.send(paused ? "pause" : "resume", null);
    pauseButton.textContent = paused ? "Resume" : "Pause";
  });
  stopButton.addEventListener("click", () => client?.send("stop", null));
  ckptButton.addEventListener("click", () => {
    client?.call("checkpoint", null).then(({ bytes, step }) => download(bytes, `checkpoint-step${step}.safetensors`), (error: unknown) => replace(stats, errorBox(error)));
  });
  ggufButton.addEventListener("click", () => {
    client?.call("gguf", null).then(({ bytes, step }) => download(bytes, `tiny-step${step}.gguf`), (error: unknown) => replace(stats, errorBox(error)));
  });

  root.append(
    h("h1", {}, "Training: a transformer learns your text"),
    h("p", { class: "lede" },
      "Training shows the model windows of the text and asks, at every position, for the next token. The loss is the cross-entropy of its answer, −ln p(the true next token): ln(vocabulary size) for a model that guesses uniformly, 0 for one that is always sure and right. ",
      "Backpropagation gives every weight its gradient, AdamW moves the weights a little against it, and the loss falls. The held-out validation loss tells learning from memorising: when it stops falling while the training loss goes on, the model is learning the text by heart."),
    textIn,
    h("div", { class: "controls" },
      knob("vocabSize", "vocabulary", { min: 260, max: 4096, step: 1 }), knob("dim", "width", { min: 16, max: 256, step: 16 }),
      knob("layers", "layers", { min: 1, max: 8, step: 1 }), knob("heads", "heads", { min: 1, max: 8, step: 1 }),
      knob("seqLen", "context", { min: 8, max: 256, step: 8 }), knob("batch", "batch", { min: 1, max: 64, step: 1 }),
      knob("steps", "steps", { min: 1, max: 100000, step: 1 }), knob("lr", "learning rate", { min: 1e-5, max: 0.1, step: "any" }),
      knob("seed", "seed", { min: 0, max: 2 ** 31, step: 1 })),
    h("div", { class: "controls" }, trainButton, pauseButton, stopButton, ckptButton, ggufButton),
    info, stats, chart,
    h("h2", {}, "Samples as it learns"),
    h("p", { class: "note" }, "Every 50 steps, 40 tokens from the model as it is (temperature 0.8, top-k 40), starting with the text's first word: first noise, then the text's words, then its phrases. The checkpoint is the file `zllm train` writes (weights, AdamW moments, step, loss history); the GGUF file, with this tokenizer inside, loads in `zllm generate --model` and in llama.cpp."),
    samples,
  );
  return () => client?.terminate();
}
