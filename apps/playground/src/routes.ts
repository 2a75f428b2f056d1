/**
 * The pages, in the order of the guide. Each route is the hash the guide's chapters link to
 * (docs/README.md: #/autograd … #/chat); each page's module is loaded when it is first opened.
 */
export interface PageModule {
  /** Draws the page into `root`; the returned function stops its workers and timers when the page is left. */
  render(root: HTMLElement): () => void;
}

export interface Route {
  path: string;
  title: string;
  summary: string;
  load: () => Promise<PageModule>;
}

export const ROUTES: readonly Route[] = [
  { path: "autograd", title: "Autograd", summary: "An expression as a graph, every node's value and gradient; nudge an input; train an MLP on two moons.", load: () => import("./pages/autograd") },
  { path: "activations", title: "Activations", summary: "Each activation and its derivative; signal and gradient through 50 layers under five initializations; dead ReLUs.", load: () => import("./pages/activations") },
  { path: "tokenizer", title: "Tokenizer", summary: "Text as tokens with ids and byte spans in r50k, cl100k, o200k, the embedded model's or a GGUF vocabulary; train a BPE.", load: () => import("./pages/tokenizer") },
  { path: "attention", title: "Attention", summary: "The embedded model's attention maps per layer and head, one query step by step, and the measured O(N²) cost.", load: () => import("./pages/attention") },
  { path: "training", title: "Training", summary: "Train a tiny transformer on your text in the browser: loss curve, tokens/s, samples; pause, resume, download.", load: () => import("./pages/training") },
  { path: "sampling", title: "Sampling", summary: "The next-token distribution through each step of the sampler chain, a JSON Schema mask, seeded generation, speculative decoding by prompt lookup or a Q4_0 draft model.", load: () => import("./pages/sampling") },
  { path: "quantization", title: "Quantization", summary: "Weight histograms and Q8_0/Q4_0/Q4_K error per tensor, perplexity per type, and a KV-cache calculator.", load: () => import("./pages/quantization") },
  { path: "lora", title: "LoRA", summary: "A layer's low-rank update ΔW = (α/r)·B·A, and how the shipped adapter moves the next-token distribution as it is turned off, on and up.", load: () => import("./pages/lora") },
  { path: "chat", title: "Chat", summary: "Chat with the local OpenAI-compatible server: streaming, time to first token, tokens/s, each token's probability.", load: () => import("./pages/chat") },
];
