import { h } from "../ui/dom";

export function render(root: HTMLElement): () => void {
  root.append(h("h1", {}, "chat"), h("p", {}, "In progress."));
  return () => {};
}
