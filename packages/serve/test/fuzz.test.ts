import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveDefaultModel, metric, metrics, startServer, type Running } from "./helpers";

/**
 * Seeded random requests against every POST route: bodies built from the routes' own field names
 * with values of every JSON type (and some hostile strings), plus random bytes. Whatever comes,
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
    "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "seed", "response_format", "tools", "tool_choice", "top_k", "min_p", "repeat_penalty", "user"],
  completions: ["model", "prompt", "max_tokens", "temperature", "top_p", "n", "stream", "stream_options", "stop", "logprobs", "echo", "suffix", "best_of", "seed", "logit_bias"],
  embeddings: ["model", "input", "encoding_format", "dimensions", "user"],
  tokenize: ["model", "content", "add_special", "parse_special", "with_pieces"],
  detokenize: ["model", "tokens"],
} as const;

const ROUTES: [string, keyof typeof FIELDS][] = [
  ["/v1/chat/completions", "chat"], ["/v1/completions", "completions"], ["/v1/embeddings", "embeddings"], ["/tokenize", "tokenize"], ["/detokenize", "detokenize"],
];

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
  for (let i = Math.floor(random() * 4); i > 0; i--) o[pick(FIELDS[route])] = value(0);
  return random() < 0.05 ? value(0) : o;
}

describe.skipIf(!haveDefaultModel)("fuzz: random bodies on every route", () => {
  let s: Running;
  beforeAll(async () => {
    s = await startServer({ engine: { parallel: 8 } });
  });
  afterAll(async () => {
    await s?.close();
  });

  it("300 random requests: each a 2xx or an OpenAI-shaped 4xx, never a 5xx", async () => {
    const statuses = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      const [path, route] = pick(ROUTES);
      const raw = random() < 0.1
        ? Uint8Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256))
        : JSON.stringify(body(route));
      const res = await fetch(`${s.url}${path}`, { method: "POST", body: raw });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const what = `${path} ${typeof raw === "string" ? raw.slice(0, 300) : `bytes ${Array.from(raw).join(",")}`}`;
      expect(res.status, `${what} → ${text.slice(0, 300)}`).toBeLessThan(500);
      if (res.status >= 400) {
        const e = (JSON.parse(text) as { error: { message: string; type: string; code: string } }).error;
        expect(typeof e.message, what).toBe("string");
        expect(e.type, what).toBe("invalid_request_error");
      }
    }
    // both kinds of outcome were exercised
    expect(statuses.get(200) ?? 0).toBeGreaterThan(30);
    expect([...statuses.entries()].filter(([st]) => st >= 400).reduce((n, [, c]) => n + c, 0)).toBeGreaterThan(30);
    const text = await metrics(s.url);
    expect(metric(text, "zllm_active_sequences")).toBe(0);
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
  });
});
