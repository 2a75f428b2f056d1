/**
 * RoPE pairs dimensions of each head in one of two ways, and checkpoints disagree on which:
 *
 *   interleaved (llama2.c, GGUF / ggml NORM mode, Meta's original):  (x0, x1) (x2, x3) … (x[d-2], x[d-1])
 *   half        (Hugging Face Llama):                                 (x0, x[d/2]) (x1, x[d/2+1]) …
 *
 * Pair i turns by the same angle pos · theta^(-2i/d) in both. A checkpoint written for one style
 * runs under the other once the rows of its q and k projections are reordered inside every head,
 * which is what the converters do (HF's convert_llama_weights_to_hf one way, llama.cpp's
 * convert_hf_to_gguf the other):
 *
 *   interleaved row 2i + s  (s = 0, 1)   <->   half row s · d/2 + i
 *
 * Only q_proj and k_proj change (k with the number of kv heads); scores q·k are sums over the same
 * products in another order, so logits agree to rounding.
 */

/** Rows of a [nHeads · headDim, cols] matrix (or a [nHeads · headDim] bias, cols = 1) from interleaved to half order. */
export function interleavedToHalf(w: Float32Array, nHeads: number, headDim: number, cols: number): Float32Array {
  return permuteHeadRows(w, nHeads, headDim, cols, (i, s) => s * (headDim / 2) + i, (i, s) => 2 * i + s);
}

/** The inverse of interleavedToHalf: rows in half order back to interleaved pairs. */
export function halfToInterleaved(w: Float32Array, nHeads: number, headDim: number, cols: number): Float32Array {
  return permuteHeadRows(w, nHeads, headDim, cols, (i, s) => 2 * i + s, (i, s) => s * (headDim / 2) + i);
}

function permuteHeadRows(
  w: Float32Array,
  nHeads: number,
  headDim: number,
  cols: number,
  dstRow: (i: number, s: number) => number,
  srcRow: (i: number, s: number) => number,
): Float32Array {
  const out = new Float32Array(w.length);
  for (let h = 0; h < nHeads; h++) {
    const base = h * headDim;
    for (let i = 0; i < headDim / 2; i++) {
      for (let s = 0; s < 2; s++) {
        const from = (base + srcRow(i, s)) * cols;
        out.set(w.subarray(from, from + cols), (base + dstRow(i, s)) * cols);
      }
    }
  }
  return out;
}
