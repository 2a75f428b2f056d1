import { describe, expect, it } from "vitest";
import { Counter, Histogram, ServerMetrics } from "../src/index";

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
