import { h } from "../ui/dom";

export function render(root: HTMLElement): () => void {
  root.append(
    h("h1", {}, "LoRA: a low-rank update"),
    h("p", { class: "lede" },
      "Fine-tuning every weight of a model means storing a second copy of it. LoRA freezes the weight W and learns a small update beside it: ΔW = (α/r)·B·A, where A has r rows and B has r columns, with r far below the layer's width. ",
      "The layer computes W·x + (α/r)·B·(A·x): a few per cent of the parameters, an adapter of a few megabytes, and switching adapters per request leaves the base untouched."),
    h("p", { class: "panel", "data-testid": "lora-pending" },
      "Not here yet: this page shows a layer's weight, the adapter's ΔW and how the next-token distribution moves with the adapter on, off and scaled. It needs @zero-llm/lora and the adapter shipped with it, which are being built on their own branch and have not landed on main; no figures are shown until they are computed from them."),
  );
  return () => {};
}
