// A typed error that wraps another keeps it as `cause` (issue 11): the message is ours, written for
// the user, and the original (a SyntaxError's position, an errno code, the inner typed error) stays
// reachable for a debugger or a caller that wants it. One representative path per kind of wrap:
// reading a file, parsing JSON, parsing GGUF metadata and a llama2.c header.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { SafetensorsError, SafetensorsFile, TensorError, ggufValue, jsBackend, serializeGguf, type GgufValue } from "@zero-llm/tensor";
import { openFileSource } from "@zero-llm/tensor/node";
import { TokenizerError, fromTokenizerJson, loadBpeJson } from "@zero-llm/tokenizer-bpe";
import { afterAll, describe, expect, it } from "vitest";
import { Model, TransformerError, allocateWeights, ggufFromModel, modelFromBytes, type Config } from "../src/index";
import { loadModel } from "../src/node/index";

const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-cause-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function caught(fn: () => unknown): Promise<Error & { code?: unknown; cause?: unknown }> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof Error) return e;
    throw new Error(`expected an Error, found ${String(e)}`, { cause: e });
  }
  throw new Error("expected a throw, found none");
}

/** A 1-layer llama with dim 16, 4 heads: small enough to build in a test. */
function tinyLlama(): Model {
  const config: Config = {
    arch: "llama", dim: 16, hiddenDim: 32, nLayers: 1, nHeads: 4, nKvHeads: 4, vocabSize: 32, seqLen: 16,
    normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: true,
  };
  return new Model(config, allocateWeights(config, jsBackend));
}

describe("wrapped errors keep the original as cause", () => {
  it("file reading: a missing file is FILE_UNREADABLE whose cause is the errno error", async () => {
    const e = await caught(() => openFileSource(path.join(dir, "absent.bin")));
    expect(e).toBeInstanceOf(TensorError);
    expect(e.code).toBe("FILE_UNREADABLE");
    expect((e.cause as { code?: unknown }).code).toBe("ENOENT");
    const missing = await caught(() => loadModel(path.join(dir, "absent.gguf")));
    expect(missing).toBeInstanceOf(TransformerError);
    expect(missing.code).toBe("UNKNOWN_FORMAT");
    expect((missing.cause as { code?: unknown }).code).toBe("ENOENT");
  });

  it("JSON parsing: tokenizer.json, zero-llm-bpe, config.json and a safetensors header keep the SyntaxError", async () => {
    for (const parse of [() => fromTokenizerJson("{ not json"), () => loadBpeJson("{ not json")]) {
      const e = await caught(parse);
      expect(e).toBeInstanceOf(TokenizerError);
      expect(e.cause).toBeInstanceOf(SyntaxError);
    }
    writeFileSync(path.join(dir, "config.json"), "{ not json");
    const config = await caught(() => loadModel(path.join(dir, "config.json")));
    expect(config).toBeInstanceOf(TransformerError);
    expect(config.cause).toBeInstanceOf(SyntaxError);
    // safetensors: 8-byte little-endian header length, then a header that is not JSON
    const header = new TextEncoder().encode("{ not json");
    const bytes = new Uint8Array(8 + header.length);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(header, 8);
    const st = await caught(() => SafetensorsFile.parse(bytes));
    expect(st).toBeInstanceOf(SafetensorsError);
    expect(st.code).toBe("SAFETENSORS_BAD_HEADER");
    expect(st.cause).toBeInstanceOf(SyntaxError);
  });

  it("GGUF parsing: metadata that makes an invalid config is BAD_METADATA whose cause is the BAD_CONFIG check", async () => {
    const m = tinyLlama();
    const input = ggufFromModel(m.config, m.weights);
    const metadata = [...(input.metadata as Iterable<readonly [string, GgufValue]>)]
      .map(([k, v]): [string, GgufValue] => [k, k === "llama.attention.head_count" ? ggufValue.u32(3) : v]);
    const e = await caught(() => modelFromBytes(serializeGguf({ metadata, tensors: input.tensors })));
    expect(e).toBeInstanceOf(TransformerError);
    expect(e.code).toBe("BAD_METADATA");
    expect(e.cause).toBeInstanceOf(TransformerError);
    expect((e.cause as TransformerError).code).toBe("BAD_CONFIG");
    expect(e.message).toContain((e.cause as Error).message);
  });

  it("llama2.c header: dim not divisible by the heads is LLAMA2C_BAD_HEADER whose cause is the BAD_CONFIG check", async () => {
    // dim, hidden, layers, heads, kv heads, vocab, seq
    const header = new Int32Array([10, 12, 1, 3, 3, 8, 4]);
    const bytes = new Uint8Array(4096);
    bytes.set(new Uint8Array(header.buffer));
    const e = await caught(() => modelFromBytes(bytes));
    expect(e).toBeInstanceOf(TransformerError);
    expect(e.code).toBe("LLAMA2C_BAD_HEADER");
    expect((e.cause as TransformerError).code).toBe("BAD_CONFIG");
  });
});
