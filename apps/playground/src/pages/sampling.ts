import { h } from "../ui/dom";

export function render(root: HTMLElement): () => void {
  root.append(h("h1", {}, "sampling"), h("p", {}, "In progress."));
  return () => {};
}
