import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveDefaultModel, metric, metrics, HTTP_THREADS, startServer, type Running } from "./helpers";

/**
 * Seeded random requests against every POST route: bodies built from the routes' own field names
 * with values of every JSON type (and some hostile strings), random JSON Schemas and tools for the
 * constraint compiler, plus random bytes. Whatever comes,
 * the answer is a 2xx or a 4xx in OpenAI's error shape, never a 5xx or a dropped connection, and
 * the server is idle and serving afterwards.
 */

let state = 0x2545f491;
const random = (): number => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];

const STRINGS = ["", "x", "The jury said", "<|endoftext|>", "\u0000\u0001", "\ud800", "é€😀", "a".repeat(3000), "default", "user", "text", "json_object"];
const NUMBERS = [0, 1, 2, -1, 0.5, 1.5, 7, 100, 2047, 2048, 1e9, -1e9, 1e308, 4294967296, 16];

function value(depth: number): unknown {
  const kind = Math.floor(random() * (depth > 2 ? 4 : 7));
  switch (kind) {
    case 0:
      return pick(NUMBERS);
    case 1:
      return pick(STRINGS);
    case 2:
      return random() < 0.5;
    case 3:
      return null;
    case 4:
      return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
    case 5:
      return Array.from({ length: Math.floor(random() * 3) }, () => Math.floor(random() * 2100));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 4); i > 0; i--) o[pick([...FIELDS.chat, "type", "name", "role", "content", "include_usage"])] = value(depth + 1);
      return o;
    }
  }
}

const FIELDS = {
  chat: ["model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stream", "stream_options", "stop", "presence_penalty",
    "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "seed", "response_format", "tools", "tool_choice", "parallel_tool_calls", "top_k", "min_p",
    "repeat_penalty", "repeat_last_n", "typical_p", "min_keep", "dry_multiplier", "dry_base", "dry_allowed_length", "dry_penalty_last_n", "dry_sequence_breakers",
    "xtc_probability", "xtc_threshold", "mirostat", "mirostat_tau", "mirostat_eta", "user"],
  completions: ["model", "prompt", "max_tokens", "temperature", "top_p", "n", "stream", "stream_options", "stop", "logprobs", "echo", "suffix", "best_of", "seed",
    "logit_bias", "response_format", "tools"],
  embeddings: ["model", "input", "encoding_format", "dimensions", "user"],
  tokenize: ["model", "content", "add_special", "parse_special", "with_pieces"],
  detokenize: ["model", "tokens"],
} as const;

const ROUTES: [string, keyof typeof FIELDS][] = [
  ["/v1/chat/completions", "chat"], ["/v1/completions", "completions"], ["/v1/embeddings", "embeddings"], ["/tokenize", "tokenize"], ["/detokenize", "detokenize"],
];

/** A small JSON Schema, mostly valid, with now and then a keyword the compiler refuses or a value of the wrong kind. */
function schema(depth: number): unknown {
  if (random() < 0.1) return value(depth + 2);
  const type = pick(["object", "string", "integer", "number", "boolean", "array", "null", ["string", "null"], "strung"]);
  const s: Record<string, unknown> = { type };
  if (type === "object" && depth < 2) {
    s.properties = Object.fromEntries(Array.from({ length: Math.floor(random() * 3) }, (_, i) => [`p${i}`, schema(depth + 1)]));
    if (random() < 0.5) s.required = Object.keys(s.properties as object);
    if (random() < 0.3) s.additionalProperties = pick([true, false, 3]);
  }
  if (type === "string" && random() < 0.5) s.maxLength = pick([0, 4, 12, -1]);
  if (type === "integer" && random() < 0.5) Object.assign(s, { minimum: pick([0, -5, 1e9]), maximum: pick([10, -10, 1e9]) });
  if (type === "array" && depth < 2) Object.assign(s, { items: schema(depth + 1), maxItems: pick([0, 2, 3]) });
  if (random() < 0.1) s[pick(["not", "uniqueItems", "multipleOf", "if", "enum", "const", "pattern"])] = pick([{}, true, 2, [1, "a"], "a+", "[", null]);
  return s;
}

/** response_format or tools, shaped enough to reach the constraint compiler most of the time. */
function constrained(o: Record<string, unknown>, route: keyof typeof FIELDS): void {
  if (route === "completions" || random() < 0.5) {
    o.response_format = pick([{ type: "json_object" }, { type: "json_schema", json_schema: { name: pick(["x", "bad name", ""]), schema: schema(0) } }, { type: pick(["text", "yaml"]) }]);
  } else {
    o.tools = Array.from({ length: 1 + Math.floor(random() * 2) }, (_, i) => ({ type: pick(["function", "function", "custom"]), function: { name: pick([`f${i}`, "f0", "two words"]), parameters: schema(0) } }));
    if (random() < 0.7) o.tool_choice = pick(["auto", "required", "none", { type: "function", function: { name: pick(["f0", "zz"]) } }, 7]);
    if (random() < 0.3) o.parallel_tool_calls = pick([true, false, "yes"]);
  }
}

/** A body: mostly plausible (a valid core plus random extra fields), sometimes anything at all. */
function body(route: keyof typeof FIELDS): unknown {
  const o: Record<string, unknown> = {};
  if (random() < 0.7) {
    if (route === "chat") o.messages = [{ role: "user", content: pick(STRINGS.slice(0, 8)) }];
    if (route === "completions") o.prompt = pick(STRINGS.slice(1, 8));
    if (route === "embeddings") o.input = pick(STRINGS.slice(1, 8));
    if (route === "tokenize") o.content = pick(STRINGS);
    if (route === "detokenize") o.tokens = [1, 2, 3];
    o.max_tokens = 1 + Math.floor(random() * 8);
  }
  // half the plausible chat and completion bodies ask for a constrained output (and then
  // get fewer random fields, so most reach the constraint compiler)
  const shaped = (route === "chat" || route === "completions") && o.max_tokens !== undefined && random() < 0.5;
  if (shaped) constrained(o, route);
  for (let i = Math.floor(random() * (shaped ? 2 : 4)); i > 0; i--) o[pick(FIELDS[route])] = value(0);
  return random() < 0.05 ? value(0) : o;
}

describe.skipIf(!haveDefaultModel).each(HTTP_THREADS)("fuzz: random bodies on every route (HTTP on the %s thread)", (httpThread) => {
  let s: Running;
  beforeAll(async () => {
    s = await startServer({ httpThread, engine: { parallel: 8 } });
  });
  afterAll(async () => {
    await s?.close();
  });

  it("300 random requests: each a 2xx or an OpenAI-shaped 4xx, never a 5xx", async () => {
    const statuses = new Map<number, number>();
    const constrainedOutcomes = { ok: 0, refused: 0 };
    for (let i = 0; i < 300; i++) {
      const [path, route] = pick(ROUTES);
      const raw = random() < 0.1
        ? Uint8Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256))
        : JSON.stringify(body(route));
      const res = await fetch(`${s.url}${path}`, { method: "POST", body: raw });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (typeof raw === "string" && /"response_format":\{"type":"json|"tools":\[/.test(raw)) constrainedOutcomes[res.status === 200 ? "ok" : "refused"]++;
      const what = `${path} ${typeof raw === "string" ? raw.slice(0, 300) : `bytes ${Array.from(raw).join(",")}`}`;
      expect(res.status, `${what} → ${text.slice(0, 300)}`).toBeLessThan(500);
      if (res.status >= 400) {
        const e = (JSON.parse(text) as { error: { message: string; type: string; code: string } }).error;
        expect(typeof e.message, what).toBe("string");
        expect(e.type, what).toBe("invalid_request_error");
      }
    }
    // both kinds of outcome were exercised, for constrained outputs too
    expect(constrainedOutcomes.ok).toBeGreaterThan(5);
    expect(constrainedOutcomes.refused).toBeGreaterThan(5);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(30);
    expect([...statuses.entries()].filter(([st]) => st >= 400).reduce((n, [, c]) => n + c, 0)).toBeGreaterThan(30);
    const text = await metrics(s.url);
    expect(metric(text, "zllm_active_sequences")).toBe(0);
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
  });
});
