import { bytesSource, readFloat32At, type ByteSource } from "@zero-llm/tensor";
import { halfToInterleaved } from "./rope-permute";
import { TransformerError } from "../errors";
import { validateConfig, type Config } from "../infer/config";
import { listNames, type Weights } from "../infer/weights";
import { fillWeights, type LoadOptions, type TensorPlacement } from "./placement";

/**
 * llama2.c checkpoints, legacy (version 0) layout, as written by Karpathy's export.py
 * `legacy_export` / run.c `read_checkpoint`. All little-endian.
 *
 *   offset 0   | header: 7 × int32                                                 28 bytes |
 *              |   dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len        |
 *              |   vocab_size < 0 means the classifier is NOT shared with the embedding       |
 *   offset 28  | float32 tensors, back to back, no padding (kv_dim = n_kv_heads · dim/n_heads):|
 *              |   token_embedding_table [vocab, dim]                                         |
 *              |   rms_att_weight [n_layers, dim]                                             |
 *              |   wq [n_layers, dim, dim]     wk [n_layers, kv_dim, dim]                      |
 *              |   wv [n_layers, kv_dim, dim]  wo [n_layers, dim, dim]                         |
 *              |   rms_ffn_weight [n_layers, dim]                                             |
 *              |   w1 [n_layers, hidden, dim]  w2 [n_layers, dim, hidden]                      |
 *              |   w3 [n_layers, hidden, dim]                                                 |
 *              |   rms_final_weight [dim]                                                     |
 *              |   freq_cis_real [seq_len, head_size/2]  freq_cis_imag [same] (RoPE table:   |
 *              |     unused, the rope kernel recomputes it from theta = 10000)                |
 *              |   wcls [vocab, dim]   only when vocab_size < 0                               |
 *
 * Matrices are [out, in] (nn.Linear), w1 = gate, w3 = up, w2 = down. llama2.c's export permutes
 * q/k so that RoPE rotates adjacent pairs: ropeStyle "interleaved". Norm epsilon 1e-5.
 * Version 1+ files start with the magic "ak42" (0x616b3432) and a 256-byte header.
 */
export const LLAMA2C_HEADER_BYTES = 28;
export const LLAMA2C_V1_MAGIC = 0x616b3432;

/**
 * The tensors of a legacy llama2.c file in file order: our name (null = skipped; `perLayer`:
 * one tensor per layer, named model.layers.N.<name>) and shape. The per-layer names are made
 * while reading, never listed up front: n_layers comes from the header and must not size anything
 * before the file size confirmed it.
 */
interface FileTensor {
  readonly name: string | null;
  readonly perLayer: boolean;
  readonly shape: readonly number[];
}

function fileLayout(c: Config, sharedClassifier: boolean): FileTensor[] {
  const headDim = c.dim / c.nHeads, kvDim = c.nKvHeads * headDim;
  const perLayer = (name: string, shape: number[]): FileTensor => ({ name, perLayer: true, shape });
  const layout: FileTensor[] = [
    { name: "model.embed_tokens.weight", perLayer: false, shape: [c.vocabSize, c.dim] },
    perLayer("input_layernorm.weight", [c.dim]),
    perLayer("self_attn.q_proj.weight", [c.dim, c.dim]),
    perLayer("self_attn.k_proj.weight", [kvDim, c.dim]),
    perLayer("self_attn.v_proj.weight", [kvDim, c.dim]),
    perLayer("self_attn.o_proj.weight", [c.dim, c.dim]),
    perLayer("post_attention_layernorm.weight", [c.dim]),
    perLayer("mlp.gate_proj.weight", [c.hiddenDim, c.dim]), // w1
    perLayer("mlp.down_proj.weight", [c.dim, c.hiddenDim]), // w2
    perLayer("mlp.up_proj.weight", [c.hiddenDim, c.dim]), // w3
    { name: "model.norm.weight", perLayer: false, shape: [c.dim] },
    { name: null, perLayer: false, shape: [c.seqLen, headDim / 2] }, // freq_cis_real
    { name: null, perLayer: false, shape: [c.seqLen, headDim / 2] }, // freq_cis_imag
  ];
  if (!sharedClassifier) layout.push({ name: "lm_head.weight", perLayer: false, shape: [c.vocabSize, c.dim] });
  return layout;
}

/** The names (one per layer for a perLayer entry) of one layout entry, in file order. */
function* namesOf(t: FileTensor, nLayers: number): Generator<string | null> {
  if (!t.perLayer) {
    yield t.name;
    return;
  }
  for (let l = 0; l < nLayers; l++) yield `model.layers.${l}.${t.name ?? ""}`;
}

/** Reads the 28-byte header into a Config; throws typed errors for anything it cannot be. */
export function readLlama2cConfig(bytes: Uint8Array): { config: Config; sharedClassifier: boolean } {
  if (bytes.byteLength < LLAMA2C_HEADER_BYTES) {
    throw new TransformerError(
      "LLAMA2C_BAD_HEADER",
      `llama2.c: expected at least ${LLAMA2C_HEADER_BYTES} header bytes, found ${bytes.byteLength}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) === LLAMA2C_V1_MAGIC) {
    throw new TransformerError(
      "LLAMA2C_UNSUPPORTED_VERSION",
      `llama2.c: expected the legacy (version 0) layout, found magic "ak42" version ${view.getInt32(4, true)}`,
    );
  }
  const h = Array.from({ length: 7 }, (_, i) => view.getInt32(4 * i, true));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen] = h;
  const config: Config = {
    arch: "llama", dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(vocab), seqLen,
    normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: vocab > 0,
  };
  try {
    validateConfig(config);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new TransformerError("LLAMA2C_BAD_HEADER", `llama2.c header [${h.join(", ")}]: ${why}`, { cause: e });
  }
  return { config, sharedClassifier: vocab > 0 };
}

/**
 * Total file size the header implies, in bytes (arithmetic only: a header claiming 2^31 layers
 * costs nothing here, and its size then fails to match the file).
 */
export function llama2cFileBytes(config: Config, sharedClassifier: boolean): number {
  const floats = fileLayout(config, sharedClassifier).reduce(
    (sum, t) => sum + (t.perLayer ? config.nLayers : 1) * t.shape.reduce((a, b) => a * b, 1),
    0,
  );
  return LLAMA2C_HEADER_BYTES + 4 * floats;
}

/**
 * Reads a legacy llama2.c checkpoint (bytes in memory, or a ByteSource such as a file opened
 * with openFileSource of @zero-llm/tensor/node). The 28-byte header is validated against the
 * source's size before any weight is allocated; then every tensor is read from its offset
 * straight into its array from `options.backend.allocF32` (Hugging Face names), checked finite.
 */
export async function readLlama2c(input: Uint8Array | ByteSource, options: LoadOptions = {}): Promise<{ config: Config; weights: Weights }> {
  const source = input instanceof Uint8Array ? bytesSource(input, "llama2.c checkpoint") : input;
  const header = new Uint8Array(Math.min(LLAMA2C_HEADER_BYTES, source.size));
  await source.read(0, header);
  const { config, sharedClassifier } = readLlama2cConfig(header);
  const expected = llama2cFileBytes(config, sharedClassifier);
  if (source.size !== expected) {
    throw new TransformerError(
      "LLAMA2C_SIZE_MISMATCH",
      `llama2.c: header [dim ${config.dim}, hidden ${config.hiddenDim}, layers ${config.nLayers}, heads ${config.nHeads}/${config.nKvHeads}, ` +
        `vocab ${config.vocabSize}${sharedClassifier ? " shared" : " unshared"}, seq ${config.seqLen}] implies ${expected} bytes, found ${source.size}`,
    );
  }
  const placements: TensorPlacement[] = [];
  let offset = LLAMA2C_HEADER_BYTES;
  for (const t of fileLayout(config, sharedClassifier)) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    for (const name of namesOf(t, config.nLayers)) {
      const at = offset;
      if (name !== null) {
        placements.push({
          name, shape: t.shape, from: `llama2.c ${name} (${4 * size} bytes at offset ${at})`,
          async readF32(out) {
            await readFloat32At(source, at, out);
          },
        });
      }
      offset += 4 * size;
    }
  }
  return { config, weights: await fillWeights(config, placements, options) };
}

/**
 * The legacy llama2.c file of a model (what Karpathy's export.py `legacy_export` writes): only
 * what run.c can run, i.e. llama with interleaved RoPE, theta 10000 and norm epsilon 1e-5 (both
 * hard-coded there). The RoPE table is written as run.c's export computes it (f32 cos/sin).
 */
export function serializeLlama2c(config: Config, weights: Weights): Uint8Array {
  const c = config;
  const fail = (what: string, found: unknown): never => {
    throw new TransformerError("BAD_CONFIG", `llama2.c export: expected ${what}, found ${String(found)}`);
  };
  if (c.arch !== "llama") fail(`arch "llama"`, c.arch);
  if (c.ropeTheta !== 10000) fail("ropeTheta 10000 (run.c hard-codes it)", c.ropeTheta);
  if (Math.fround(c.normEps) !== Math.fround(1e-5)) fail("normEps 1e-5 (run.c hard-codes it)", c.normEps);
  const biases = weights.names().filter((name) => name.endsWith(".bias"));
  if (biases.length > 0) fail("a model without biases (the format has no place for them)", listNames(biases));
  const bytes = new Uint8Array(llama2cFileBytes(c, c.tiedEmbeddings));
  const view = new DataView(bytes.buffer);
  [c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.tiedEmbeddings ? c.vocabSize : -c.vocabSize, c.seqLen]
    .forEach((v, i) => view.setInt32(4 * i, v, true));
  const floats = new Float32Array(bytes.buffer, LLAMA2C_HEADER_BYTES);
  let at = 0;
  const headDim = c.dim / c.nHeads;
  const layout = fileLayout(c, c.tiedEmbeddings);
  for (const [index, t] of layout.entries()) {
    if (t.name !== null) {
      for (const name of namesOf(t, c.nLayers)) {
        let data = weights.get(name ?? "").data;
        // run.c rotates adjacent pairs: a "half" (Hugging Face) model's q/k rows are reordered
        // inside each head, as the GGUF writer does, so the file gives the same logits
        if (c.ropeStyle === "half" && name?.endsWith("self_attn.q_proj.weight")) data = halfToInterleaved(data, c.nHeads, headDim, c.dim);
        if (c.ropeStyle === "half" && name?.endsWith("self_attn.k_proj.weight")) data = halfToInterleaved(data, c.nKvHeads, headDim, c.dim);
        floats.set(data, at);
        at += data.length;
      }
      continue;
    }
    // freq_cis_real (cos) then freq_cis_imag (sin): [seqLen, headDim / 2], freq i = 10000^(-2i/headDim)
    const imag = layout[index - 1]?.name === null;
    for (let pos = 0; pos < c.seqLen; pos++) {
      for (let i = 0; i < headDim / 2; i++) {
        const angle = pos * Math.fround(1 / Math.pow(10000, (2 * i) / headDim));
        floats[at++] = imag ? Math.sin(angle) : Math.cos(angle);
      }
    }
  }
  return bytes;
}
