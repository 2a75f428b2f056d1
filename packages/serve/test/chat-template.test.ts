import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ggufValue, jsBackend } from "@zero-llm/tensor";
import { fromTokenizerJson } from "@zero-llm/tokenizer-bpe";
import { loadModel, writeGgufModel } from "@zero-llm/transformer/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatTemplate, ServeError, createServer, loadServedModel } from "../src/index";
import { DEFAULT_MODEL, haveDefaultModel } from "./helpers";

/** The ChatML template as Qwen2 and many others ship it (written out here, as models carry it). */
const CHATML =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** A template that refuses non-alternating roles, as Llama 2 and Mistral templates do. */
const ALTERNATING =
  "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' if message['role'] == 'user' else message['content'] + eos_token }}{% endfor %}";

describe("ChatTemplate", () => {
  it.skipIf(!haveDefaultModel)("the default template is a one-line-per-message transcript that stops at the end of the line", async () => {
    const t = (await loadServedModel(DEFAULT_MODEL, { backend: jsBackend })).chatTemplate;
    expect(t.origin).toBe("default");
    expect(t.stop).toEqual(["\n"]);
    expect(t.render([{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }], { addGenerationPrompt: true }))
      .toBe("system: Be brief.\nuser: Hi\nassistant:");
  });

  it("renders a model's own template with its special tokens, tool messages included", () => {
    const t = new ChatTemplate(CHATML, "tokenizer_config.json", { bos_token: "", eos_token: "<|im_end|>" });
    const text = t.render(
      [
        { role: "user", content: "Weather?" },
        { role: "assistant", content: "Calling." },
        { role: "tool", content: '{"temp": 21}', tool_call_id: "c1" },
      ],
      { addGenerationPrompt: true },
    );
    expect(text).toBe("<|im_start|>user\nWeather?<|im_end|>\n<|im_start|>assistant\nCalling.<|im_end|>\n<|im_start|>tool\n{\"temp\": 21}<|im_end|>\n<|im_start|>assistant\n");
  });

  it("a template's raise_exception is a 400 naming messages with the template's own words", () => {
    const t = new ChatTemplate(ALTERNATING, "gguf", { bos_token: "<s>", eos_token: "</s>" });
    expect(t.render([{ role: "user", content: "a" }, { role: "assistant", content: "b" }], { addGenerationPrompt: true })).toBe("<s>[INST] a [/INST]b</s>");
    let error: unknown;
    try {
      t.render([{ role: "user", content: "a" }, { role: "user", content: "b" }], { addGenerationPrompt: true });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ServeError);
    expect(error).toMatchObject({ status: 400, code: "invalid_value", param: "messages" });
    expect((error as Error).message).toContain("Conversation roles must alternate");
  });

  it("a template that does not parse is refused when the model loads", () => {
    expect(() => new ChatTemplate("{% for x in %}", "option", { bos_token: "", eos_token: "" })).toThrow(ServeError);
  });
});

describe.skipIf(!haveDefaultModel)("templates and framing found beside the model", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "zllm-serve-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("Hugging Face: tokenizer_config.json's chat_template, chat_template.jinja before it; the chat route uses it", async () => {
    const hf = path.join(dir, "hf");
    await import("node:fs/promises").then((fs) => fs.mkdir(hf));
    for (const f of ["config.json", "model.safetensors", "tokenizer.json"]) await symlink(path.join(DEFAULT_MODEL, f), path.join(hf, f));
    const marked = CHATML.replace(/<\|im_start\|>/g, "<|endoftext|>");
    await writeFile(path.join(hf, "tokenizer_config.json"), JSON.stringify({ chat_template: [{ name: "tool_use", template: "x" }, { name: "default", template: marked }] }));
    const served = await loadServedModel(hf, { backend: jsBackend });
    expect(served.id).toBe("hf");
    expect(served.chatTemplate.origin).toBe("tokenizer_config.json");
    expect(served.chatTemplate.stop).toEqual([]);
    expect(served.bos).toBe(2047);
    expect(served.endOfGeneration).toEqual([2047]);

    // the chat route renders it, and the special token in the rendered text is one token
    const server = createServer({ models: [served] });
    const url = await server.listen(0);
    try {
      const res = await fetch(`${url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ messages: [{ role: "user", content: "Hi" }], max_tokens: 1 }) });
      const body = (await res.json()) as { usage: { prompt_tokens: number } };
      const rendered = served.chatTemplate.render([{ role: "user", content: "Hi" }], { addGenerationPrompt: true });
      const ids = served.tokenizer.encode(rendered, { allowedSpecial: "all" });
      // the template starts with <|endoftext|> = bos: it is not added a second time
      expect(ids[0]).toBe(2047);
      expect(body.usage.prompt_tokens).toBe(ids.length);
    } finally {
      await server.close(100);
    }

    await writeFile(path.join(hf, "chat_template.jinja"), CHATML);
    expect((await loadServedModel(hf, { backend: jsBackend })).chatTemplate.origin).toBe("chat_template.jinja");
    await writeFile(path.join(hf, "tokenizer_config.json"), "{ not json");
    await expect(loadServedModel(hf, { backend: jsBackend })).rejects.toMatchObject({ code: "model_load_failed" });
  });

  it("GGUF: tokenizer.chat_template and the bos/eos ids from the file", async () => {
    const model = await loadModel(DEFAULT_MODEL);
    const tokenizer = fromTokenizerJson(await readFile(path.join(DEFAULT_MODEL, "tokenizer.json"), "utf8"));
    const file = path.join(dir, "tiny.gguf");
    await writeGgufModel(file, model, {
      tokenizer,
      tokenizerOptions: { bosTokenId: 2047, eosTokenId: 2047, addBosToken: true },
      metadata: [["tokenizer.chat_template", ggufValue.string(CHATML)]],
    });
    const served = await loadServedModel(file, { backend: jsBackend });
    expect(served.id).toBe("tiny");
    expect(served.chatTemplate.origin).toBe("gguf");
    expect(served.chatTemplate.source).toBe(CHATML);
    expect(served.bos).toBe(2047);
    expect(served.endOfGeneration).toContain(2047);
  });

  it("a llama2.c checkpoint needs a tokenizer file, and says so", async () => {
    const { serializeLlama2c } = await import("@zero-llm/transformer");
    const model = await loadModel(DEFAULT_MODEL);
    const file = path.join(dir, "model.bin");
    await writeFile(file, serializeLlama2c(model.config, model.weights));
    await expect(loadServedModel(file, { backend: jsBackend })).rejects.toThrow(/llama2\.c checkpoint carries no tokenizer/);
  });
});
