import { TransformerError } from "../errors";

/**
 * The shape of a decoder-only transformer, enough to allocate every buffer up front.
 *
 * - `llama`: RMSNorm, rotary positions, grouped-query attention, SwiGLU MLP, no biases.
 * - `gpt2`: LayerNorm (with bias), learned absolute positions, biases on every linear layer,
 *   GELU (tanh) MLP, nKvHeads = nHeads.
 */
export interface Config {
  arch: "llama" | "gpt2";
  /** Width of the residual stream. */
  dim: number;
  /** Width of the MLP's hidden layer. */
  hiddenDim: number;
  nLayers: number;
  /** Query heads; headDim = dim / nHeads. */
  nHeads: number;
  /** Key/value heads (grouped-query attention when < nHeads; must divide nHeads). */
  nKvHeads: number;
  vocabSize: number;
  /** Longest context the model was trained for (gpt2: the number of learned positions). */
  seqLen: number;
  /** Epsilon inside the RMSNorm / LayerNorm square root. */
  normEps: number;
  /** RoPE base (llama only). */
  ropeTheta: number;
  /** Which dimensions RoPE pairs: llama2.c / GGUF `interleaved`, Hugging Face `half`. */
  ropeStyle: "interleaved" | "half";
  /** lm_head shares its matrix with the token embedding. */
  tiedEmbeddings: boolean;
}

/**
 * Longest context any loader accepts (2^24 positions). The KV cache and, for gpt2, the position
 * table are sized by seqLen, so a header may not choose it freely; no released model comes near.
 */
export const MAX_CONTEXT = 1 << 24;

export const headDimOf = (c: Config): number => c.dim / c.nHeads;
export const kvDimOf = (c: Config): number => (c.dim / c.nHeads) * c.nKvHeads;

/** Checks the invariants the forward pass relies on; throws BAD_CONFIG naming the broken one. */
export function validateConfig(c: Config): Config {
  const fail = (expected: string, found: unknown): never => {
    throw new TransformerError("BAD_CONFIG", `config: expected ${expected}, found ${String(found)}`);
  };
  for (const key of ["dim", "hiddenDim", "nLayers", "nHeads", "nKvHeads", "vocabSize", "seqLen"] as const) {
    if (!Number.isInteger(c[key]) || c[key] <= 0) fail(`${key} to be a positive integer`, c[key]);
  }
  if (c.seqLen > MAX_CONTEXT) fail(`seqLen ≤ ${MAX_CONTEXT}`, c.seqLen);
  if (c.arch !== "llama" && c.arch !== "gpt2") fail(`arch "llama" or "gpt2"`, c.arch);
  if (c.dim % c.nHeads !== 0) fail(`dim divisible by nHeads (${c.nHeads})`, c.dim);
  if (c.nHeads % c.nKvHeads !== 0) fail(`nKvHeads dividing nHeads (${c.nHeads})`, c.nKvHeads);
  if (c.arch === "gpt2" && c.nKvHeads !== c.nHeads) fail(`nKvHeads = nHeads (${c.nHeads}) for gpt2`, c.nKvHeads);
  if (c.arch === "llama" && headDimOf(c) % 2 !== 0) fail("an even headDim for RoPE", headDimOf(c));
  if (!(c.normEps > 0)) fail("normEps > 0", c.normEps);
  if (c.arch === "llama" && !(c.ropeTheta > 0)) fail("ropeTheta > 0", c.ropeTheta);
  if (c.ropeStyle !== "interleaved" && c.ropeStyle !== "half") fail(`ropeStyle "interleaved" or "half"`, c.ropeStyle);
  return c;
}
