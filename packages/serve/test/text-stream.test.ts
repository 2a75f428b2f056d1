import { BpeTokenizer, encodeUtf8, type Tokenizer } from "@zero-llm/tokenizer-bpe";
import { describe, expect, it } from "vitest";
import { Counter, Histogram, ServerMetrics, TextStream, logprobOf } from "../src/index";

/** A byte-level tokenizer: id b is the single byte b (256 ids, no merges), so a test decides exactly where tokens split text. */
function bytesTokenizer(): Tokenizer {
  return new BpeTokenizer({ tokens: Array.from({ length: 256 }, (_, b) => Uint8Array.of(b)), merges: [], pattern: "gpt2" });
}

function idsOf(text: string): number[] {
  return Array.from(encodeUtf8(text));
}

/** Feeds ids one at a time; returns what came out at each step and at the end. */
function feed(stream: TextStream, ids: number[]): { parts: string[]; tail: string } {
  const parts: string[] = [];
  for (const id of ids) {
    parts.push(stream.push(id));
    if (stream.hitStop) break;
  }
  return { parts, tail: stream.finish() };
}

describe("TextStream: stop strings across token boundaries, whole characters only", () => {
  const tokenizer = bytesTokenizer();

  it("a stop string split over many tokens is cut out whole and never sent", () => {
    const s = new TextStream(tokenizer, ["\nuser:"]);
    const { parts, tail } = feed(s, idsOf("Hello there\nuser: more"));
    expect(s.hitStop).toBe(true);
    expect(parts.join("") + tail).toBe("Hello there");
    // nothing of the stop string went out early, even while it was only a possible prefix
    expect(parts.some((p) => p.includes("\n"))).toBe(false);
  });

  it("text that only looked like a stop's start is released once it cannot be one", () => {
    const s = new TextStream(tokenizer, ["STOP"]);
    const { parts, tail } = feed(s, idsOf("a STOnly STOP b"));
    expect(parts.join("") + tail).toBe("a STOnly ");
    const held = new TextStream(tokenizer, ["STOP"]);
    expect(held.push(0x53)).toBe(""); // "S" could start STOP
    expect(held.push(0x54)).toBe("");
    expect(held.push(0x61)).toBe("STa");
    expect(held.finish()).toBe("");
  });

  it("the earliest of several stops wins; no stops means everything goes out", () => {
    const s = new TextStream(tokenizer, ["world", "lo w"]);
    expect(feed(s, idsOf("hello world")).parts.join("")).toBe("hel");
    const free = new TextStream(tokenizer, []);
    const out = feed(free, idsOf("plain text"));
    expect(out.parts.join("") + out.tail).toBe("plain text");
  });

  it("a multi-byte character split across tokens comes out whole", () => {
    const s = new TextStream(tokenizer, []);
    const ids = idsOf("é€😀");
    const parts = ids.map((id) => s.push(id));
    expect(parts.filter((p) => p !== "")).toEqual(["é", "€", "😀"]);
    expect(s.finish()).toBe("");
  });

  it("a stop string that ends exactly at the end of generation is still cut", () => {
    const s = new TextStream(tokenizer, ["END"]);
    const { parts, tail } = feed(s, idsOf("abcEN"));
    expect(parts.join("") + tail).toBe("abcEN");
    const t = new TextStream(tokenizer, ["END"]);
    const r = feed(t, idsOf("abcEND"));
    expect(r.parts.join("") + r.tail).toBe("abc");
  });
});

describe("logprobOf", () => {
  it("is log-softmax in float64 with the top entries in order (ties: lower id first)", () => {
    const logits = Float32Array.from([1, 3, 3, -2, 0.5]);
    const r = logprobOf(logits, 4, 3);
    const logZ = Math.log([...logits].reduce((s, v) => s + Math.exp(v), 0));
    expect(r.logprob).toBeCloseTo(0.5 - logZ, 12);
    expect(r.top.map((t) => t.id)).toEqual([1, 2, 0]);
    expect(r.top[0].logprob).toBeCloseTo(3 - logZ, 12);
    expect(logprobOf(logits, 0, 0).top).toEqual([]);
  });
});

describe("metrics exposition", () => {
  it("counters with escaped labels, cumulative histogram buckets, every metric with HELP and TYPE", () => {
    const c = new Counter("x_total", "help");
    c.inc({ path: 'a"b\\c\nd' }, 2);
    c.inc({ path: 'a"b\\c\nd' });
    expect(c.render()).toEqual(['x_total{path="a\\"b\\\\c\\nd"} 3']);
    const h = new Histogram("lat_seconds", "help", [0.1, 1]);
    for (const v of [0.05, 0.5, 0.5, 5]) h.observe(v);
    expect(h.render()).toEqual([
      'lat_seconds_bucket{le="0.1"} 1',
      'lat_seconds_bucket{le="1"} 3',
      'lat_seconds_bucket{le="+Inf"} 4',
      "lat_seconds_sum 6.05",
      "lat_seconds_count 4",
    ]);
    const m = new ServerMetrics();
    m.addSource({ activeSequences: () => 2, queueDepth: () => 1, kvCacheBytes: () => 300, kvCacheCapacityBytes: () => 1000, prefixCacheBytes: () => 100 });
    m.addSource({ activeSequences: () => 1, queueDepth: () => 0, kvCacheBytes: () => 50, kvCacheCapacityBytes: () => 500, prefixCacheBytes: () => 0 });
    const text = m.render();
    const lines = text.trimEnd().split("\n");
    for (const line of lines) expect(line).toMatch(/^(# (HELP|TYPE) zllm_\w+ .+|zllm_\w+(\{[^}]*\})? [-+\d.e]+|zllm_\w+(\{[^}]*\})? \+Inf)$/);
    expect(text).toContain("zllm_active_sequences 3\n");
    expect(text).toContain("zllm_kv_cache_capacity_bytes 1500\n");
    expect(text).toContain("# TYPE zllm_time_to_first_token_seconds histogram\n");
  });
});
