import OpenAI from "openai";
import { DRY_DEFAULT_BREAKERS, Sampler, dryBreakersFromStrings } from "@zero-llm/sampling";
import { generate } from "@zero-llm/transformer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metric, haveDefaultModel, HTTP_THREADS, startServer, type Running } from "./helpers";

/**
 * The official `openai` client drives every endpoint against a server started here on the
 * embedded default model. Expected values come from the model run directly (transformer's
 * generate, prefill logits and hidden states), not from the server itself.
 */
describe.skipIf(!haveDefaultModel).each(HTTP_THREADS)("the openai client against zllm serve (HTTP on the %s thread)", (httpThread) => {
  let s: Running;
  let client: OpenAI;
  let root: OpenAI;
  beforeAll(async () => {
    s = await startServer({ httpThread, engine: { parallel: 8 } });
    client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "unused", maxRetries: 0 });
    root = new OpenAI({ baseURL: s.url, apiKey: "unused", maxRetries: 0 });
  });
  afterAll(async () => {
    await s?.close();
  });

  const promptIds = (text: string): number[] => {
    const ids = s.served.tokenizer.encode(text, { allowedSpecial: "all" });
    return s.served.bos !== undefined ? [s.served.bos, ...ids] : ids;
  };
  const chatPromptIds = (messages: { role: string; content: string }[]): number[] =>
    promptIds(s.served.chatTemplate.render(messages, { addGenerationPrompt: true }));

  it("GET /v1/models lists the model with its per-sequence context", async () => {
    const models = [];
    for await (const m of client.models.list()) models.push(m);
    expect(models).toHaveLength(1);
    expect(models[0]).toMatchObject({ id: "default", object: "model", owned_by: "zero-llm", context_length: s.served.model.config.seqLen });
    expect(models[0]).toMatchObject({ context_length: 512 }); // the embedded model's context
    const one = await client.models.retrieve("default");
    expect(one.id).toBe("default");
    await expect(client.models.retrieve("nope")).rejects.toMatchObject({ status: 404, code: "model_not_found" });
  });

  it("completions: greedy text equals the model's own greedy continuation, with exact usage", async () => {
    const prompt = "The jury said";
    const r = await client.completions.create({ model: "default", prompt, max_tokens: 12, temperature: 0 });
    const ids = promptIds(prompt);
    const reference = [...generate(s.served.model, ids, { maxTokens: 12, eos: [...s.served.endOfGeneration] })];
    expect(r.object).toBe("text_completion");
    expect(r.choices[0].text).toBe(s.served.tokenizer.decode(reference));
    expect(r.choices[0].finish_reason).toBe(reference.length === 12 ? "length" : "stop");
    expect(r.usage).toMatchObject({ prompt_tokens: ids.length, completion_tokens: reference.length, total_tokens: ids.length + reference.length });
  });

  it("completions stream: the same text in deltas, one finish_reason, and include_usage's final chunk exactly", async () => {
    const body = { model: "default", prompt: "The jury said", max_tokens: 12, temperature: 0.8, seed: 5 };
    const whole = await client.completions.create(body);
    const stream = await client.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
    let text = "";
    const finishes: string[] = [];
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.pop();
    for (const chunk of chunks) {
      expect(chunk.usage).toBeNull(); // every chunk before the last carries usage: null
      expect(chunk.choices).toHaveLength(1);
      text += chunk.choices[0].text;
      if (chunk.choices[0].finish_reason) finishes.push(chunk.choices[0].finish_reason);
    }
    expect(text).toBe(whole.choices[0].text);
    expect(finishes).toEqual([whole.choices[0].finish_reason]);
    expect(last?.choices).toEqual([]);
    const { prompt_tokens_details: _details, ...counts } = whole.usage ?? {};
    expect(last?.usage).toMatchObject(counts);
  });

  it("chat: the template's prompt, the same content streamed or not, usage counted token by token", async () => {
    const messages = [
      { role: "system" as const, content: "You answer in one line." },
      { role: "user" as const, content: "What did the jury say?" },
    ];
    const body = { model: "default", messages, max_tokens: 16, seed: 3, temperature: 0.9, logprobs: true };
    const whole = await client.chat.completions.create(body);
    const choice = whole.choices[0];
    expect(whole.object).toBe("chat.completion");
    expect(choice.message.role).toBe("assistant");
    expect(["stop", "length"]).toContain(choice.finish_reason);
    const expectedPrompt = chatPromptIds(messages);
    expect(whole.usage?.prompt_tokens).toBe(expectedPrompt.length);
    // one logprob entry per generated token: completion_tokens counts exactly those
    expect(choice.logprobs?.content).toHaveLength(whole.usage?.completion_tokens ?? -1);
    expect(whole.usage?.total_tokens).toBe(expectedPrompt.length + (whole.usage?.completion_tokens ?? 0));

    const stream = await client.chat.completions.create({ ...body, stream: true });
    let content = "";
    let role: string | undefined;
    const finishes: string[] = [];
    for await (const chunk of stream) {
      expect("usage" in chunk).toBe(false); // no include_usage: no usage field at all
      for (const c of chunk.choices) {
        if (c.delta.role) role = c.delta.role;
        content += c.delta.content ?? "";
        if (c.finish_reason) finishes.push(c.finish_reason);
      }
    }
    expect(role).toBe("assistant");
    expect(content).toBe(choice.message.content);
    expect(finishes).toEqual([choice.finish_reason]);
  });

  it("chat stream with include_usage: a last chunk with empty choices and the non-streamed usage", async () => {
    const body = { model: "default", messages: [{ role: "user" as const, content: "Hello" }], max_tokens: 8, seed: 9 };
    const whole = await client.chat.completions.create(body);
    const chunks = [];
    for await (const chunk of await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } })) chunks.push(chunk);
    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    const { prompt_tokens_details: _details, ...counts } = whole.usage ?? {};
    expect(last.usage).toMatchObject(counts);
    // the same prompt again: all of it but its last token came from the prefix cache, and usage says so
    expect(last.usage?.prompt_tokens_details?.cached_tokens).toBe((whole.usage?.prompt_tokens ?? 0) - 1);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it("logprobs are the model's log-softmax, with top alternatives sorted", async () => {
    const prompt = "The jury said";
    const r = await client.completions.create({ model: "default", prompt, max_tokens: 1, temperature: 0, logprobs: 3 });
    const ids = promptIds(prompt);
    const model = s.served.model;
    const logits = Float64Array.from(model.prefill(ids, model.newCache()).logits);
    const max = Math.max(...logits);
    const logZ = max + Math.log(logits.reduce((sum, v) => sum + Math.exp(v - max), 0));
    const greedy = logits.indexOf(max);
    const lp = r.choices[0].logprobs;
    expect(lp?.tokens?.[0]).toBe(s.served.tokenizer.decode([greedy]));
    expect(lp?.token_logprobs?.[0]).toBeCloseTo(max - logZ, 5);
    const top = Object.values(lp?.top_logprobs?.[0] ?? {});
    expect(top[0]).toBeCloseTo(max - logZ, 5);
    expect([...top].sort((a, b) => b - a)).toEqual(top);
  });

  it("stop strings cut the text before the stop and end with finish_reason stop", async () => {
    const body = { model: "default", prompt: "The jury said", max_tokens: 24, temperature: 0 };
    const full = (await client.completions.create(body)).choices[0].text;
    const stop = full.slice(8, 11);
    const cut = await client.completions.create({ ...body, stop: [stop] });
    expect(cut.choices[0].text).toBe(full.slice(0, full.indexOf(stop)));
    expect(cut.choices[0].finish_reason).toBe("stop");
  });

  it("n choices: choice i is the single request with seed + i", async () => {
    const body = { model: "default", prompt: "The jury said", max_tokens: 10, temperature: 1, seed: 20 };
    const both = await client.completions.create({ ...body, n: 2 });
    const first = await client.completions.create(body);
    const second = await client.completions.create({ ...body, seed: 21 });
    expect(both.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(both.choices[0].text).toBe(first.choices[0].text);
    expect(both.choices[1].text).toBe(second.choices[0].text);
    expect(both.usage?.prompt_tokens).toBe(first.usage?.prompt_tokens);
    expect(both.usage?.completion_tokens).toBe((first.usage?.completion_tokens ?? 0) + (second.usage?.completion_tokens ?? 0));
  });

  it("the whole chain (OpenAI's penalties on the output only, llama.cpp's extensions) equals generate() with the same Sampler", async () => {
    const prompt = "The jury said the jury said the jury";
    const ids = promptIds(prompt);
    const r = await client.completions.create({
      model: "default", prompt, max_tokens: 24, seed: 11, temperature: 0.9, presence_penalty: 1.5, frequency_penalty: 0.5,
      // @ts-expect-error llama.cpp server's names for the rest of the chain (documented extensions)
      repeat_penalty: 1.2, repeat_last_n: 32, top_k: 40, typical_p: 0.95, min_p: 0.02, dry_multiplier: 0.8,
    });
    const { tokenizer, model } = s.served;
    const sampler = new Sampler({
      seed: 11, temperature: 0.9, presencePenalty: 1.5, frequencyPenalty: 0.5, repetitionPenalty: 1.2, repetitionWindow: 32,
      topK: 40, typicalP: 0.95, minP: 0.02, dryMultiplier: 0.8,
      dryBreakers: dryBreakersFromStrings(DRY_DEFAULT_BREAKERS, { size: model.config.vocabSize, tokenBytes: (id) => tokenizer.tokenBytes(id), encode: (t) => tokenizer.encode(t) }),
      frequencyPresenceFrom: ids.length, // OpenAI: the prompt's repeats are not penalised by these two
    });
    const reference = [...generate(model, ids, { maxTokens: 24, sampler, eos: [...s.served.endOfGeneration] })];
    expect(r.choices[0].text).toBe(tokenizer.decode(reference));
  });

  it("logit_bias +100 forces a token", async () => {
    const r = await client.completions.create({ model: "default", prompt: "The", max_tokens: 5, temperature: 0.7, logit_bias: { "558": 100 } });
    expect(r.choices[0].text).toBe(s.served.tokenizer.decode([558, 558, 558, 558, 558]));
  });

  it("embeddings: the normalised mean of the final hidden states, float and base64 alike", async () => {
    const input = ["The jury said", "a second text"];
    const asFloat = await client.embeddings.create({ model: "default", input, encoding_format: "float" });
    const asBase64 = await client.embeddings.create({ model: "default", input }); // the client asks for base64 and decodes it
    const model = s.served.model;
    const dim = model.config.dim;
    for (let k = 0; k < input.length; k++) {
      const ids = promptIds(input[k]);
      const hidden = new Float32Array(ids.length * dim);
      model.prefill(ids, model.newCache(), { hiddenStates: hidden });
      const mean = new Float64Array(dim);
      for (let p = 0; p < ids.length; p++) for (let i = 0; i < dim; i++) mean[i] += hidden[p * dim + i] / ids.length;
      const norm = Math.sqrt(mean.reduce((sum, v) => sum + v * v, 0));
      const got = asFloat.data[k].embedding;
      expect(got).toHaveLength(dim);
      for (let i = 0; i < dim; i++) expect(got[i]).toBeCloseTo(mean[i] / norm, 5);
      expect(asBase64.data[k].embedding).toEqual(got.map((v) => Math.fround(v)));
    }
    expect(asFloat.usage.prompt_tokens).toBe(input.reduce((sum, t) => sum + promptIds(t).length, 0));
  });

  it("tokenize and detokenize round-trip, with pieces", async () => {
    const text = "The jury said <|endoftext|> again";
    const t = await root.post<{ tokens: number[] }>("/tokenize", { body: { content: text } });
    expect(t.tokens).toEqual(s.served.tokenizer.encode(text, { allowedSpecial: "all" }));
    expect(t.tokens).toContain(2047);
    const plain = await root.post<{ tokens: number[] }>("/tokenize", { body: { content: text, parse_special: false, add_special: true } });
    expect(plain.tokens[0]).toBe(s.served.bos);
    expect(plain.tokens.slice(1)).toEqual(s.served.tokenizer.encode(text));
    const pieces = await root.post<{ tokens: { id: number; piece: string }[] }>("/tokenize", { body: { content: "The jury", with_pieces: true } });
    expect(pieces.tokens.map((p) => p.piece).join("")).toBe("The jury");
    const d = await root.post<{ content: string }>("/detokenize", { body: { tokens: t.tokens } });
    expect(d.content).toBe(text);
  });

  it("GET /health and GET /metrics (the contract's names, counting what happened)", async () => {
    expect(await root.get("/health")).toEqual({ status: "ok" });
    const text = await (await fetch(`${s.url}/metrics`)).text();
    for (const name of [
      "zllm_requests_total", "zllm_active_sequences", "zllm_queue_depth", "zllm_prompt_tokens_total", "zllm_generated_tokens_total",
      "zllm_time_to_first_token_seconds", "zllm_inter_token_latency_seconds", "zllm_kv_cache_bytes", "zllm_kv_cache_capacity_bytes",
      "zllm_prefix_cache_hits_total", "zllm_prefix_cache_tokens_reused_total",
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(metric(text, "zllm_requests_total", '{endpoint="/v1/completions",status="200"}')).toBeGreaterThanOrEqual(8);
    expect(metric(text, "zllm_active_sequences")).toBe(0);
    expect(metric(text, "zllm_generated_tokens_total")).toBeGreaterThan(50);
    expect(metric(text, "zllm_time_to_first_token_seconds_count")).toBeGreaterThan(5);
    expect(metric(text, "zllm_kv_cache_capacity_bytes")).toBe(8 * s.served.model.config.seqLen * 2 * s.served.model.config.nLayers * (s.served.model.config.dim / s.served.model.config.nHeads) * s.served.model.config.nKvHeads * 4);
  });

  it("errors come back in OpenAI's shape through the client", async () => {
    await expect(client.completions.create({ model: "default", prompt: "x", max_tokens: -1 })).rejects.toMatchObject({
      status: 400, code: "invalid_value", param: "max_tokens", type: "invalid_request_error",
    });
    await expect(client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] })).rejects.toMatchObject({
      status: 404, code: "model_not_found",
    });
    const unenforceable = { type: "json_schema" as const, json_schema: { name: "x", schema: { type: "object", properties: { a: { not: {} } } } } };
    await expect(client.chat.completions.create({ model: "default", messages: [{ role: "user", content: "hi" }], response_format: unenforceable }))
      .rejects.toMatchObject({ status: 400, code: "unsupported_parameter", param: "response_format.json_schema.schema" });
  });
});

describe.skipIf(!haveDefaultModel).each(HTTP_THREADS)("--api-key (HTTP on the %s thread)", (httpThread) => {
  let s: Running;
  beforeAll(async () => {
    s = await startServer({ httpThread, apiKey: "sekret" });
  });
  afterAll(async () => {
    await s?.close();
  });

  it("every route but /health needs the Bearer key", async () => {
    const wrong = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "guess", maxRetries: 0 });
    await expect(wrong.models.list()).rejects.toMatchObject({ status: 401, code: "invalid_api_key" });
    const right = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "sekret", maxRetries: 0 });
    const r = await right.completions.create({ model: "default", prompt: "The", max_tokens: 2 });
    expect(r.choices).toHaveLength(1);
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
    const bare = await fetch(`${s.url}/metrics`);
    expect(bare.status).toBe(401);
    expect(bare.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await fetch(`${s.url}/tokenize`, { method: "POST", body: "{}" })).status).toBe(401);
  });
});
