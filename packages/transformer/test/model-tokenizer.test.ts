// One tokenizer loader for every consumer (zllm's model commands and the server): the tokenizer a
// checkpoint carries, or a tokenizer file recognised by content, with bos, the end ids and the
// chat template as the files declare them (llama.cpp's and Hugging Face's rules).
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TensorError, ggufStringArrayOf, ggufValue } from "@zero-llm/tensor";
import { SpmTokenizer, TokenizerError, fromGgufMetadata, fromTokenizerJson } from "@zero-llm/tokenizer-bpe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TransformerError } from "../src/index";
import { findCheckpointTokenizer, openCheckpoint, readTokenizerFile, tokenizerFromBytes, writeGgufModel } from "../src/node/index";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../../..");
const DEFAULT_MODEL = path.join(repoRoot, "models/default");
const LLAMA2C_TOKENIZER = path.resolve(repoRoot, "../shared/fixtures/llama2c/llama2-tokenizer.bin");

let dir = "";
beforeAll(async () => { dir = await mkdtemp(path.join(os.tmpdir(), "zllm-model-tokenizer-")); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe("findCheckpointTokenizer: the tokenizer a checkpoint carries", () => {
  it("Hugging Face: tokenizer.json; bos for llama unless tokenizer_config.json says not; config.json's eos; chat templates", async () => {
    const hf = path.join(dir, "hf");
    await mkdir(hf);
    for (const f of ["config.json", "model.safetensors", "tokenizer.json"]) await symlink(path.join(DEFAULT_MODEL, f), path.join(hf, f));
    const checkpoint = await openCheckpoint(hf);
    const found = await findCheckpointTokenizer(checkpoint);
    expect(found?.kind).toBe("tokenizer.json");
    expect(found?.tokenizer.vocabSize).toBe(2048);
    expect(found?.bos).toBe(2047); // models/default: a llama whose bos_token_id is <|endoftext|>
    expect(found?.eos).toEqual([2047]);
    expect(found?.chatTemplate).toBeUndefined();

    await writeFile(path.join(hf, "tokenizer_config.json"), JSON.stringify({ add_bos_token: false, chat_template: [{ name: "tool_use", template: "x" }, { name: "default", template: "y" }] }));
    const configured = await findCheckpointTokenizer(checkpoint);
    expect(configured?.bos).toBeUndefined();
    expect(configured?.chatTemplate).toEqual({ source: "y", origin: "tokenizer_config.json" });
    await writeFile(path.join(hf, "chat_template.jinja"), "z");
    expect((await findCheckpointTokenizer(checkpoint))?.chatTemplate).toEqual({ source: "z", origin: "chat_template.jinja" });

    await writeFile(path.join(hf, "tokenizer_config.json"), "{ not json");
    const broken = await findCheckpointTokenizer(checkpoint).catch((e: unknown) => e);
    expect(broken).toBeInstanceOf(TransformerError);
    expect((broken as TransformerError).code).toBe("BAD_METADATA");
    expect((broken as TransformerError).cause).toBeInstanceOf(SyntaxError);

    await unlink(path.join(hf, "tokenizer.json"));
    expect(await findCheckpointTokenizer(checkpoint)).toBeUndefined();
  });

  it("GGUF: tokenizer.ggml.* metadata, add_bos_token, eos and eot ids, tokenizer.chat_template; none without the metadata", async () => {
    const model = (await openCheckpoint(DEFAULT_MODEL)).model;
    const tokenizer = fromTokenizerJson(readFileSync(path.join(DEFAULT_MODEL, "tokenizer.json"), "utf8"));
    const file = path.join(dir, "tok.gguf");
    await writeGgufModel(file, model, {
      tokenizer,
      tokenizerOptions: { bosTokenId: 2047, eosTokenId: 2047, addBosToken: true },
      metadata: [["tokenizer.ggml.eot_token_id", ggufValue.u32(5)], ["tokenizer.chat_template", ggufValue.string("t")]],
    });
    const found = await findCheckpointTokenizer(await openCheckpoint(file));
    expect(found?.kind).toBe("gguf");
    expect(found?.bos).toBe(2047);
    expect(found?.eos).toEqual([2047, 5]);
    expect(found?.chatTemplate).toEqual({ source: "t", origin: "gguf" });
    expect(found?.tokenizer.encode("the cat")).toEqual(tokenizer.encode("the cat"));
    // the same file given as a tokenizer file reads the same way
    const asFile = await readTokenizerFile(file);
    expect([asFile.kind, asFile.bos, asFile.eos]).toEqual(["gguf", 2047, [2047, 5]]);

    const bare = path.join(dir, "bare.gguf");
    await writeGgufModel(bare, model, { tokenizer: [] }); // no tokenizer.ggml.* entries at all
    expect(await findCheckpointTokenizer(await openCheckpoint(bare))).toBeUndefined();
  });
});

describe("a GGUF model's SentencePiece vocabulary stays bytes", () => {
  it("the tokenizer is built without decoding tokenizer.ggml.tokens; ggufMetadata still gives the strings when asked", async () => {
    const model = (await openCheckpoint(DEFAULT_MODEL)).model; // a llama of 2048 ids: minimalLlamaVocabulary when written
    const file = path.join(dir, "spm.gguf");
    await writeGgufModel(file, model);
    const checkpoint = await openCheckpoint(file);
    const tokens = ggufStringArrayOf(checkpoint.ggufMetadata?.get("tokenizer.ggml.tokens"));
    expect(tokens?.length).toBe(2048);
    const found = await findCheckpointTokenizer(checkpoint);
    expect(found?.tokenizer).toBeInstanceOf(SpmTokenizer);
    const ids = found!.tokenizer.encode("a b zz q");
    expect(found!.tokenizer.decode(ids)).toBe("a b zz q");
    expect(tokens?.materialized).toBe(false); // no string per piece was made
    // The public view converts on demand: the same strings and values as the reader's.
    const pieces = found!.ggufMetadata!.get("tokenizer.ggml.tokens") as string[];
    expect(pieces).toEqual(checkpoint.ggufMetadata!.get("tokenizer.ggml.tokens")!.value);
    expect(found!.ggufMetadata!.get("tokenizer.ggml.bos_token_id")).toBe(1);
    expect([...found!.ggufMetadata!.keys()]).toEqual([...checkpoint.ggufMetadata!.keys()]);
    expect(found!.ggufMetadata!.size).toBe(checkpoint.ggufMetadata!.size);
    // And the tokenizer from the strings (the path before) answers the same for every token.
    const fromStrings = fromGgufMetadata(new Map(found!.ggufMetadata)) as SpmTokenizer;
    const spm = found!.tokenizer as SpmTokenizer;
    for (let id = 0; id < spm.vocabSize; id++) expect([spm.piece(id), [...spm.tokenBytes(id)]]).toEqual([fromStrings.piece(id), [...fromStrings.tokenBytes(id)]]);
    expect(spm.encode("zz a  b\n")).toEqual(fromStrings.encode("zz a  b\n"));
  });
});

describe("tokenizerFromBytes / readTokenizerFile: a tokenizer file, recognised by content", () => {
  it("tokenizer.json: the tokenizer's own eos, no bos for a BPE vocabulary", () => {
    const found = tokenizerFromBytes(readFileSync(path.join(DEFAULT_MODEL, "tokenizer.json")), "anything.txt");
    expect(found.kind).toBe("other");
    expect(found.bos).toBeUndefined();
    expect(found.eos).toEqual([2047]);
  });

  it.skipIf(!existsSync(LLAMA2C_TOKENIZER))("llama2.c tokenizer.bin: bos <s> = 1, end at </s> = 2 and <s> (run.c's rule)", async () => {
    const found = await readTokenizerFile(LLAMA2C_TOKENIZER);
    expect(found.kind).toBe("llama2c");
    expect(found.bos).toBe(1);
    expect(found.eos).toEqual([2, 1]);
    expect(found.tokenizer.vocabSize).toBe(32000);
  });

  it("bytes that match no format: a *.bin is read as a damaged llama2.c tokenizer (its reader says where), anything else is unrecognised", () => {
    const junk = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(() => tokenizerFromBytes(junk, "t.bin")).toThrow(TokenizerError);
    expect(() => tokenizerFromBytes(junk, "t.dat")).toThrow(TokenizerError);
  });

  it("a tokenizer file must be a regular file: /dev/zero is NOT_A_FILE before a byte is read", async () => {
    const e = await readTokenizerFile("/dev/zero").catch((error: unknown) => error);
    expect(e).toBeInstanceOf(TensorError);
    expect((e as TensorError).code).toBe("NOT_A_FILE");
  });
});
