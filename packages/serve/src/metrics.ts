/**
 * Prometheus metrics in the text exposition format (version 0.0.4): counters, gauges and
 * histograms, rendered by `/metrics`. Small on purpose: a counter is a map from a label set to a
 * number, a histogram a row of cumulative bucket counts plus their sum and count.
 *
 *   # HELP zllm_requests_total Requests answered, by endpoint and HTTP status.
 *   # TYPE zllm_requests_total counter
 *   zllm_requests_total{endpoint="/v1/completions",status="200"} 3
 */

type Labels = Readonly<Record<string, string>>;
/** The empty label set (a counter without labels, incremented per token: no key to build). */
const NO_LABELS: Labels = Object.freeze({});

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  render(): string[];
}

/** `{a="1",b="x"}` with Prometheus escaping (backslash, quote, newline), or "" for no labels. */
function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return "";
  const escape = (v: string): string => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  return `{${pairs.map(([k, v]) => `${k}="${escape(v)}"`).join(",")}}`;
}

/** A number as Prometheus writes it: +Inf, -Inf, NaN, else the shortest round-trip decimal. */
function num(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return Number.isNaN(v) ? "NaN" : String(v);
}

export class Counter implements Metric {
  readonly type = "counter";
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels = NO_LABELS, by = 1): void {
    const key = labels === NO_LABELS ? "" : labelText(labels);
    const entry = this.values.get(key);
    if (entry) entry.value += by;
    else this.values.set(key, { labels, value: by });
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels))?.value ?? 0;
  }

  render(): string[] {
    if (this.values.size === 0) return [`${this.name} 0`];
    return [...this.values.values()].map(({ labels, value }) => `${this.name}${labelText(labels)} ${num(value)}`);
  }
}

/** A gauge read when rendered (from the engine's live state), so it can never go stale. */
export class Gauge implements Metric {
  readonly type = "gauge";
  constructor(readonly name: string, readonly help: string, private readonly read: () => number) {}

  get(): number {
    return this.read();
  }

  render(): string[] {
    return [`${this.name} ${num(this.read())}`];
  }
}

export class Histogram implements Metric {
  readonly type = "histogram";
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  /** `buckets`: upper bounds, ascending; +Inf is implied. */
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {
    this.counts = new Array<number>(buckets.length).fill(0);
  }

  observe(value: number): void {
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) this.counts[i]++;
    this.sum += value;
    this.count++;
  }

  get observations(): number {
    return this.count;
  }

  render(): string[] {
    const lines = this.buckets.map((le, i) => `${this.name}_bucket${labelText({}, ["le", num(le)])} ${this.counts[i]}`);
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${num(this.sum)}`, `${this.name}_count ${this.count}`);
    return lines;
  }
}

/** Latency buckets in seconds, 1 ms to 60 s. */
export const LATENCY_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** What the engines report for the gauges; summed over every loaded model. */
export interface EngineGauges {
  activeSequences(): number;
  queueDepth(): number;
  kvCacheBytes(): number;
  kvCacheCapacityBytes(): number;
  prefixCacheBytes(): number;
}

/**
 * The server's metrics. The names are a public contract (issue 17): dashboards and alerts are
 * written against them, so they never change meaning.
 */
export class ServerMetrics {
  readonly requests = new Counter("zllm_requests_total", "Requests answered, by endpoint and HTTP status.");
  readonly promptTokens = new Counter("zllm_prompt_tokens_total", "Prompt tokens of admitted requests (cached ones included).");
  readonly generatedTokens = new Counter("zllm_generated_tokens_total", "Tokens generated.");
  readonly prefixCacheHits = new Counter("zllm_prefix_cache_hits_total", "Requests that reused KV entries of a cached prompt prefix.");
  readonly prefixCacheTokensReused = new Counter("zllm_prefix_cache_tokens_reused_total", "Prompt tokens whose KV entries came from the prefix cache instead of a prefill.");
  readonly timeToFirstToken = new Histogram("zllm_time_to_first_token_seconds", "From a request's arrival to its first generated token.", LATENCY_BUCKETS);
  readonly draftTokens = new Counter("zllm_draft_tokens_total", "Tokens proposed by the draft model (speculative decoding, --draft-model).");
  readonly draftTokensAccepted = new Counter("zllm_draft_tokens_accepted_total", "Draft tokens the model's own choice agreed with (each saved a decode step).");
  readonly interTokenLatency = new Histogram("zllm_inter_token_latency_seconds", "Between consecutive generated tokens of one sequence.", LATENCY_BUCKETS);
  private readonly sources: EngineGauges[] = [];
  private readonly all: Metric[];

  constructor() {
    const sum = (f: (g: EngineGauges) => number) => () => this.sources.reduce((s, g) => s + f(g), 0);
    this.all = [
      this.requests,
      new Gauge("zllm_active_sequences", "Sequences holding a KV cache (prefilling or decoding).", sum((g) => g.activeSequences())),
      new Gauge("zllm_queue_depth", "Requests waiting for KV-cache room.", sum((g) => g.queueDepth())),
      this.promptTokens,
      this.generatedTokens,
      this.timeToFirstToken,
      this.interTokenLatency,
      new Gauge("zllm_kv_cache_bytes", "Bytes of KV cache held: running sequences plus the prefix cache.", sum((g) => g.kvCacheBytes())),
      new Gauge("zllm_kv_cache_capacity_bytes", "KV-cache budget in bytes (admission waits when it is full).", sum((g) => g.kvCacheCapacityBytes())),
      new Gauge("zllm_prefix_cache_bytes", "Part of zllm_kv_cache_bytes kept by finished sequences for reuse as prefixes.", sum((g) => g.prefixCacheBytes())),
      this.prefixCacheHits,
      this.prefixCacheTokensReused,
      this.draftTokens,
      this.draftTokensAccepted,
    ];
  }

  /** Adds an engine's gauges to the sums. */
  addSource(gauges: EngineGauges): void {
    this.sources.push(gauges);
  }

  /** The whole exposition, each metric with its HELP and TYPE lines. */
  render(): string {
    const lines: string[] = [];
    for (const m of this.all) lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.render());
    return `${lines.join("\n")}\n`;
  }
}
