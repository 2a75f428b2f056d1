import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import Ajv from "ajv";
import OpenAI from "openai";
import type { ChatCompletionMessageParam, ChatCompletionTool, ChatCompletionToolChoiceOption } from "openai/resources/chat/completions";
import { createWasmBackend, jsBackend, type WasmBackend } from "@zero-llm/tensor";
import { fromTokenizerJson } from "@zero-llm/tokenizer-bpe";
import { loadModel, writeGgufModel } from "@zero-llm/transformer/node";
import { randomWeights } from "@zero-llm/transformer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, loadServedModel, type ServedModel, type ZllmServer } from "../src/index";
import { DEFAULT_MODEL, haveDefaultModel } from "./helpers";

/**
 * response_format and tools through the official openai client, on the embedded model and on a
 * random-weight model of the same shape and tokenizer (whose outputs go anywhere the mask lets
 * them): over many seeds, every output parses and validates with ajv, an independent validator.
 * The schemas bound every string and list, so every output fits max_tokens and ends because the
 * grammar is complete: 100 % of them must parse and validate.
 */

const PERSON = {
  type: "object",
  properties: {
    name: { type: "string", minLength: 1, maxLength: 16 },
    age: { type: "integer", minimum: 0, maximum: 120 },
    email: { type: ["string", "null"], pattern: "^[a-z]{1,8}@[a-z]{1,8}\\.com$" },
    role: { enum: ["juror", "judge", "clerk"] },
  },
  required: ["name", "age", "email", "role"],
  additionalProperties: false,
};
const EVENT = {
  type: "object",
  properties: {
    title: { type: "string", maxLength: 24 },
    date: { type: "string", format: "date" },
    attendees: { type: "array", items: { $ref: "#/$defs/attendee" }, minItems: 1, maxItems: 3 },
    cancelled: { type: "boolean" },
    score: { type: "number", minimum: -10, exclusiveMaximum: 10 },
  },
  required: ["title", "date", "attendees"],
  $defs: { attendee: { type: "object", properties: { id: { type: "integer", minimum: 1, maximum: 999 }, note: { type: "string", maxLength: 6 } }, required: ["id"] } },
};
const TOOLS: ChatCompletionTool[] = [
  { type: "function", function: { name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string", minLength: 1, maxLength: 20 }, unit: { enum: ["c", "f"] } }, required: ["city", "unit"] } } },
  { type: "function", function: { name: "add", parameters: { type: "object", properties: { a: { type: "integer", minimum: -100, maximum: 100 }, b: { type: "number", minimum: 0, maximum: 1 } }, required: ["a", "b"], additionalProperties: false } } },
  { type: "function", function: { name: "now" } },
];

const ajv = new Ajv({ strict: false });
ajv.addFormat("date", /^\d{4}-\d{2}-\d{2}$/);
const validate = (schema: object): ((v: unknown) => boolean) => {
  const fn = ajv.compile(schema);
  return (v) => fn(v) === true;
};
const toolValidators = new Map(TOOLS.map((t) => {
  if (t.type !== "function") throw new Error("function tools only");
  return [t.function.name, validate((t.function.parameters as object | undefined) ?? { type: "object", properties: {}, additionalProperties: false })];
}));

const SEEDS = Array.from({ length: 12 }, (_, i) => i * 7 + 1);
const ASK: ChatCompletionMessageParam[] = [{ role: "user", content: "Answer in JSON." }];

interface Served {
  name: string;
  served: ServedModel;
  server: ZllmServer;
  client: OpenAI;
  backend: WasmBackend;
}

async function serve(name: string, file: string): Promise<Served> {
  const backend = await createWasmBackend({ threads: 1 });
  const served = await loadServedModel(file, { backend, id: "m" });
  const server = createServer({ models: [served], engine: { parallel: 16 } });
  const url = await server.listen(0);
  return { name, served, server, backend, client: new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 }) };
}

describe.skipIf(!haveDefaultModel)("constrained outputs through the openai client", () => {
  let dir: string;
  const models: Served[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "zllm-constrained-"));
    // the embedded model's shape and tokenizer, random weights
    const { config } = await loadModel(DEFAULT_MODEL);
    const tokenizer = fromTokenizerJson(await readFile(path.join(DEFAULT_MODEL, "tokenizer.json"), "utf8"));
    const file = path.join(dir, "random.gguf");
    await writeGgufModel(file, { config, weights: randomWeights(config, { seed: 7, backend: jsBackend }) }, {
      tokenizer,
      tokenizerOptions: { bosTokenId: 2047, eosTokenId: 2047, addBosToken: true },
    });
    models.push(await serve("embedded model", DEFAULT_MODEL), await serve("random-weight model", file));
  }, 60_000);
  afterAll(async () => {
    for (const m of models) {
      await m.server.close(100);
      await m.backend.dispose();
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const which of [0, 1]) {
    const label = which === 0 ? "embedded model" : "random-weight model";

    it(`${label}: json_schema, strict and not: every output parses and validates; streamed = not streamed`, async () => {
      const { client } = models[which];
      for (const [schema, strict] of [[PERSON, true], [EVENT, false]] as const) {
        const check = validate(schema);
        const body = (seed: number) => ({ model: "m", messages: ASK, seed, temperature: 1, response_format: { type: "json_schema" as const, json_schema: { name: "out", schema, strict } } });
        const outs = await Promise.all(SEEDS.map((seed) => client.chat.completions.create(body(seed))));
        for (const o of outs) {
          const content = o.choices[0].message.content ?? "";
          expect(o.choices[0].finish_reason, content).toBe("stop");
          const value: unknown = JSON.parse(content);
          expect(check(value), content).toBe(true);
        }
        let streamed = "";
        for await (const chunk of await client.chat.completions.create({ ...body(SEEDS[0]), stream: true })) streamed += chunk.choices[0]?.delta.content ?? "";
        expect(streamed).toBe(outs[0].choices[0].message.content);
      }
    });

    it(`${label}: json_object: every output the grammar ended is a JSON object`, async () => {
      const { client } = models[which];
      const outs = await Promise.all(SEEDS.map((seed) => client.chat.completions.create({ model: "m", messages: ASK, seed, response_format: { type: "json_object" } })));
      let ended = 0;
      for (const o of outs) {
        const content = o.choices[0].message.content ?? "";
        // an object's keys and strings are unbounded: one that runs out of tokens is cut, as OpenAI does, and says so
        if (o.choices[0].finish_reason === "length") continue;
        expect(o.choices[0].finish_reason).toBe("stop");
        const value: unknown = JSON.parse(content);
        expect(typeof value === "object" && value !== null && !Array.isArray(value), content).toBe(true);
        ended++;
      }
      expect(ended).toBeGreaterThanOrEqual(SEEDS.length - 2);
    });

    it(`${label}: tool_choice required / named: a call whose arguments validate, finish_reason tool_calls, streamed as OpenAI's deltas`, async () => {
      const { client } = models[which];
      const choices: ChatCompletionToolChoiceOption[] = ["required", { type: "function", function: { name: "add" } }];
      for (const tool_choice of choices) {
        const body = (seed: number, parallel: boolean) => ({ model: "m", messages: [{ role: "user" as const, content: "What is the weather in Paris?" }], seed, tools: TOOLS, tool_choice, parallel_tool_calls: parallel });
        const outs = await Promise.all(SEEDS.map((seed, i) => client.chat.completions.create(body(seed, i % 2 === 0))));
        outs.forEach((o, i) => {
          const { message, finish_reason } = o.choices[0];
          const parallel = i % 2 === 0;
          // one call: always complete. Parallel calls: the model decides how many, so it may run
          // out of tokens in a later one (finish_reason "length"); every call before it is whole
          if (!parallel || finish_reason !== "length") expect(finish_reason, JSON.stringify(message)).toBe("tool_calls");
          expect(message.content).toBeNull();
          const calls = message.tool_calls ?? [];
          expect(calls.length).toBeGreaterThan(0);
          if (!parallel) expect(calls).toHaveLength(1);
          for (const call of finish_reason === "length" ? calls.slice(0, -1) : calls) {
            expect(call.type).toBe("function");
            if (call.type !== "function") continue;
            expect(call.id).toMatch(/^call_[A-Za-z0-9_-]{24}$/);
            if (typeof tool_choice === "object" && tool_choice.type === "function") expect(call.function.name).toBe(tool_choice.function.name);
            const args: unknown = JSON.parse(call.function.arguments);
            expect(toolValidators.get(call.function.name)?.(args), call.function.arguments).toBe(true);
          }
        });
        // the same request streamed: OpenAI's tool_calls deltas add up to the same calls
        const whole = outs[1].choices[0].message.tool_calls ?? [];
        const assembled: { id: string; name: string; arguments: string }[] = [];
        let finish: string | null = null;
        for await (const chunk of await client.chat.completions.create({ ...body(SEEDS[1], false), stream: true })) {
          for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
            if (delta.id) assembled[delta.index] = { id: delta.id, name: delta.function?.name ?? "", arguments: "" };
            assembled[delta.index].arguments += delta.function?.arguments ?? "";
          }
          finish = chunk.choices[0]?.finish_reason ?? finish;
        }
        expect(finish).toBe("tool_calls");
        expect(assembled.map((c) => [c.name, c.arguments])).toEqual(whole.map((c) => (c.type === "function" ? [c.function.name, c.function.arguments] : [])));
      }
    });

    it(`${label}: tool_choice auto gives text or valid calls; none never calls`, async () => {
      const { client } = models[which];
      // a bias towards "<" makes the random model open the envelope often; the trained one writes text
      const lt = models[which].served.tokenizer.encode("<")[0];
      const auto = await Promise.all(SEEDS.map((seed) => client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "Weather?" }], seed, tools: TOOLS, logit_bias: { [lt]: which === 1 ? 4 : 0 } })));
      for (const o of auto) {
        const { message, finish_reason } = o.choices[0];
        if (message.tool_calls && message.tool_calls.length > 0) {
          expect(finish_reason).toBe("tool_calls");
          for (const call of message.tool_calls) {
            if (call.type !== "function") throw new Error("not a function call");
            expect(toolValidators.get(call.function.name)?.(JSON.parse(call.function.arguments)), call.function.arguments).toBe(true);
          }
        } else {
          expect(["stop", "length"]).toContain(finish_reason);
          expect(message.content?.startsWith("<tool_call>") || message.content?.startsWith(" <tool_call>")).toBe(false);
        }
      }
      const none = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "Weather?" }], seed: 3, max_tokens: 20, tools: TOOLS, tool_choice: "none" });
      expect(none.choices[0].message.tool_calls).toBeUndefined();
      expect(none.choices[0].finish_reason).not.toBe("tool_calls");
    });
  }

  it("logprobs with tool calls, streamed or not: one entry per generated token; /v1/completions takes response_format too", async () => {
    const { client } = models[1];
    const body = { model: "m", messages: [{ role: "user" as const, content: "Add." }], seed: 4, tools: TOOLS, tool_choice: { type: "function" as const, function: { name: "add" } }, logprobs: true, top_logprobs: 2 };
    const whole = await client.chat.completions.create(body);
    expect(whole.choices[0].logprobs?.content).toHaveLength(whole.usage?.completion_tokens ?? -1);
    let entries = 0;
    for await (const chunk of await client.chat.completions.create({ ...body, stream: true })) entries += chunk.choices[0]?.logprobs?.content?.length ?? 0;
    expect(entries).toBe(whole.usage?.completion_tokens);
    const check = validate(PERSON);
    const completion = await client.completions.create({
      model: "m", prompt: "A person:", max_tokens: 200, seed: 2,
      // @ts-expect-error an extension: OpenAI's legacy completions have no response_format
      response_format: { type: "json_schema", json_schema: { name: "person", schema: PERSON } },
    });
    expect(completion.choices[0].finish_reason).toBe("stop");
    expect(check(JSON.parse(completion.choices[0].text))).toBe(true);
  });

  it("tool results go back into the template: a second turn's prompt holds the call and the tool line", async () => {
    const { client, served } = models[0];
    const first = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "Weather in Paris?" }], seed: 5, tools: TOOLS, tool_choice: { type: "function", function: { name: "get_weather" } } });
    const call = first.choices[0].message.tool_calls?.[0];
    if (!call || call.type !== "function") throw new Error("expected a function call");
    const messages: ChatCompletionMessageParam[] = [
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [call] },
      { role: "tool", tool_call_id: call.id, content: '{"temperature": 21}' },
    ];
    const second = await client.chat.completions.create({ model: "m", messages, seed: 5, max_tokens: 8, tools: TOOLS });
    const rendered = served.chatTemplate.render(
      [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: null, tool_calls: [{ id: call.id, type: "function", function: { name: call.function.name, arguments: call.function.arguments } }] },
        { role: "tool", content: '{"temperature": 21}', tool_call_id: call.id },
      ],
      { addGenerationPrompt: true, tools: TOOLS },
    );
    expect(rendered).toContain(`assistant: <tool_call>{"name": "get_weather", "arguments": ${call.function.arguments}}</tool_call>\ntool: {"temperature": 21}\nassistant:`);
    expect(rendered.startsWith("tools: get_weather(city, unit), add(a, b), now()\nuser: Weather in Paris?\n")).toBe(true);
    const ids = served.tokenizer.encode(rendered, { allowedSpecial: "all" });
    expect(second.usage?.prompt_tokens).toBe(ids.length + (ids[0] === served.bos ? 0 : 1));
  });
});
