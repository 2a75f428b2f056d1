/**
 * Where the guide lives and what it promises: one chapter per topic, each with its file (once
 * written), the playground page that shows it and the packages whose READMEs link to it.
 */
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (docs/src/ -> ../..). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const DOCS_DIR = join(REPO_ROOT, "docs");
export const GUIDE_DIR = join(DOCS_DIR, "guide");
/** Extracted programs (git-ignored): inside docs/ so that `@zero-llm/*` resolve from here. */
export const SNIPPET_DIR = join(DOCS_DIR, ".snippets");

/** The playground, as `npm start` / `zllm serve` serve it; pages are hash routes. */
export const PLAYGROUND_URL = "http://127.0.0.1:8080/";

export interface Chapter {
  number: number;
  /** The file under docs/guide/, or null while the chapter is an outline entry in the index. */
  file: string | null;
  title: string;
  /** The playground page: PLAYGROUND_URL + "#/" + route. */
  route: string;
  /**
   * Packages (directory names under packages/) whose README links to this chapter; while the
   * chapter is not written, to the guide's index instead (a package that has not landed yet is
   * skipped).
   */
  packages: readonly string[];
}

export const CHAPTERS: readonly Chapter[] = [
  { number: 1, file: "01-gradients.md", title: "Gradients and the chain rule", route: "autograd", packages: ["autograd"] },
  { number: 2, file: "02-initialization-and-activations.md", title: "Initialization and activations", route: "activations", packages: ["autograd"] },
  { number: 3, file: "03-tensors.md", title: "From scalars to tensors", route: "autograd", packages: ["tensor", "autograd"] },
  { number: 4, file: "04-tokenization.md", title: "Tokenization", route: "tokenizer", packages: ["tokenizer-bpe"] },
  { number: 5, file: "05-attention.md", title: "Attention", route: "attention", packages: ["tensor", "transformer"] },
  { number: 6, file: "06-training.md", title: "The transformer block and training", route: "training", packages: ["transformer", "autograd"] },
  { number: 7, file: "07-inference.md", title: "Inference", route: "chat", packages: ["transformer"] },
  { number: 8, file: "08-quantization.md", title: "Quantization", route: "quantization", packages: ["quant", "transformer"] },
  { number: 9, file: "09-sampling.md", title: "Sampling", route: "sampling", packages: ["sampling", "transformer"] },
  { number: 10, file: null, title: "LoRA", route: "lora", packages: ["lora"] },
  { number: 11, file: null, title: "Serving", route: "chat", packages: ["serve"] },
];

export function playgroundLink(route: string): string {
  return `${PLAYGROUND_URL}#/${route}`;
}

/** The chapter files present in docs/guide/, sorted. */
export function chapterFiles(): string[] {
  if (!existsSync(GUIDE_DIR)) return [];
  return readdirSync(GUIDE_DIR).filter((f) => f.endsWith(".md")).sort();
}
