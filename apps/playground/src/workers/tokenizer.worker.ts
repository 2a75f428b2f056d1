/// <reference lib="webworker" />
import { GgufFile, ggufStringArrayOf } from "@zero-llm/tensor";
import {
  detectVocabulary, fromGgufMetadata, fromLlama2cTokenizer, fromTiktoken, fromTokenizerJson, loadVocabulary, trainBpeWithReport,
  type JsTiktokenRanks, type Tokenizer,
} from "@zero-llm/tokenizer-bpe";
import { fetchText } from "../lib/fetch";
import { serve, WorkerCallError } from "../lib/rpc";
import type { Merge, TokenView, TokenizerProtocol, VocabId } from "./tokenizer-protocol";

const loaded = new Map<VocabId, Tokenizer>();

/** js-tiktoken's rank tables (1.6–3.6 MB of text each), loaded only when asked for. */
const RANKS: Record<"r50k_base" | "cl100k_base" | "o200k_base", () => Promise<{ default: JsTiktokenRanks }>> = {
  r50k_base: () => import("js-tiktoken/ranks/r50k_base"),
  cl100k_base: () => import("js-tiktoken/ranks/cl100k_base"),
  o200k_base: () => import("js-tiktoken/ranks/o200k_base"),
};

const plain = (value: unknown): unknown => (typeof value === "bigint" ? Number(value) : value);

/** A dropped file, recognised by its content as the CLI's --vocab does: GGUF, tokenizer.json, .tiktoken, llama2.c, our JSON. */
function fromFile(bytes: Uint8Array): { tokenizer: Tokenizer; kind: string } {
  const kind = detectVocabulary(bytes);
  if (kind === "gguf") {
    // String arrays as the reader holds them (bytes + offsets): a SentencePiece vocabulary then costs no string per piece.
    const metadata = new Map([...GgufFile.parse(bytes).metadata].map(([key, entry]) => [key, ggufStringArrayOf(entry) ?? plain(entry.value)]));
    return { tokenizer: fromGgufMetadata(metadata), kind: `GGUF, tokenizer.ggml.model ${String(metadata.get("tokenizer.ggml.model"))}` };
  }
  if (kind === "llama2c") return { tokenizer: fromLlama2cTokenizer(bytes), kind: "llama2.c tokenizer.bin" };
  return { tokenizer: loadVocabulary(bytes), kind };
}

function get(vocab: VocabId): Tokenizer {
  const t = loaded.get(vocab);
  if (!t) throw new WorkerCallError("BAD_INPUT", `tokenizer: expected a loaded vocabulary, found none for ${vocab}`);
  return t;
}

async function load(vocab: VocabId, bytes?: Uint8Array, name?: string): Promise<{ label: string; kind: string }> {
  if (vocab === "r50k_base" || vocab === "cl100k_base" || vocab === "o200k_base") {
    if (!loaded.has(vocab)) loaded.set(vocab, fromTiktoken({ ranks: (await RANKS[vocab]()).default, encoding: vocab }));
    return { label: vocab, kind: "tiktoken" };
  }
  if (vocab === "model") {
    if (!loaded.has(vocab)) loaded.set(vocab, fromTokenizerJson(await fetchText("models/default/tokenizer.json")));
    return { label: "the embedded model's (models/default/tokenizer.json)", kind: "Hugging Face tokenizer.json" };
  }
  if (vocab === "file") {
    if (!bytes) throw new WorkerCallError("BAD_INPUT", "tokenizer: expected the bytes of a vocabulary file, found none");
    const { tokenizer, kind } = fromFile(bytes);
    loaded.set("file", tokenizer);
    return { label: name ?? "dropped file", kind };
  }
  get(vocab);
  return { label: "trained on this page", kind: "byte-level BPE" };
}

serve<TokenizerProtocol>({
  async load({ vocab, bytes, name }) {
    const started = performance.now();
    const { label, kind } = await load(vocab, bytes, name);
    return { vocab, label, kind, vocabSize: get(vocab).vocabSize, ms: performance.now() - started };
  },

  encode({ vocab, text, limit }) {
    const tokenizer = get(vocab);
    const started = performance.now();
    const spans = tokenizer.encodeWithOffsets(text, { allowedSpecial: "all" });
    const ms = performance.now() - started;
    const tokens: TokenView[] = [];
    let byte = 0;
    for (const span of spans) {
      const n = tokenizer.tokenBytes(span.id).length;
      if (tokens.length < limit) tokens.push({ ...span, byteStart: byte, byteEnd: byte + n, piece: tokenizer.tokenText(span.id) });
      byte += n;
    }
    return { count: spans.length, bytes: byte, tokens, ms };
  },

  async count({ vocabs, texts }) {
    for (const v of vocabs) if (!loaded.has(v)) await load(v);
    return texts.map((text) => vocabs.map((v) => get(v).countTokens(text, { allowedSpecial: "all" })));
  },

  train({ text, vocabSize }, emit) {
    const started = performance.now();
    // token 256 + k is the k-th merge: its bytes are its two parts' bytes, rebuilt as merges arrive
    const bytes: Uint8Array[] = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
    const show = (b: Uint8Array) => new TextDecoder("utf-8", { fatal: false }).decode(b);
    let batch: Merge[] = [];
    const report = trainBpeWithReport(text, {
      vocabSize,
      pattern: "cl100k",
      progressEvery: 1,
      onProgress: ({ merges, total, pair, count }) => {
        const merged = new Uint8Array([...bytes[pair[0]], ...bytes[pair[1]]]);
        bytes.push(merged);
        batch.push({ rank: merges - 1, left: show(bytes[pair[0]]), right: show(bytes[pair[1]]), merged: show(merged), count });
        if (batch.length >= 16 || merges === total) {
          emit({ merges: batch, done: merges, total });
          batch = [];
        }
      },
    });
    if (batch.length) emit({ merges: batch, done: report.merges, total: report.requestedMerges });
    loaded.set("trained", report.tokenizer);
    return {
      vocabSize: report.tokenizer.vocabSize, merges: report.merges, shortfall: report.shortfall, ms: performance.now() - started,
      count: report.tokenizer.countTokens(text),
    };
  },
});
