import type { KVCache } from "@zero-llm/transformer";

/**
 * One request's sequence as the engine runs it, and the contracts between the engine and the
 * code that submits requests (the HTTP layer, or a library user).
 *
 *   queued ──admit──▶ prefill ──last prompt chunk──▶ decode ──eog / max tokens──▶ done
 *      │                 │                             │
 *      └────── cancel / timeout / shutdown: done at once, the KV cache released ──┘
 */

/** Picks the next token; the request's sampling settings live behind it. */
export interface TokenChooser {
  /**
   * The next id for `logits` [vocabSize] (the model's output, a view valid only during the call).
   * `tokens` holds the prompt then the tokens generated so far; the prompt is its first
   * `promptLength` ids.
   */
  choose(logits: Float32Array, tokens: readonly number[], promptLength: number): number;
}

/**
 * Why a sequence ended. "stop": an end-of-generation token, or the submitter's stop() (a stop
 * string); "length": max tokens, or the sequence's context is full; the rest end it early.
 */
export type FinishReason = "stop" | "length" | "cancelled" | "timeout" | "shutdown" | "error";

export interface SequenceResult {
  readonly reason: FinishReason;
  readonly promptTokens: number;
  /** Prompt tokens whose KV entries came from the prefix cache. */
  readonly cachedTokens: number;
  readonly generatedTokens: number;
  /** With reason "error": what went wrong. */
  readonly error?: unknown;
}

/** Callbacks of one sequence, called synchronously from the engine's loop. */
export interface SequenceListener {
  /** It left the queue and holds a KV cache; `cachedTokens` of its prompt come from the prefix cache. */
  admitted?(cachedTokens: number): void;
  /** A new token (never an end-of-generation id). May call the handle's stop() or cancel(). */
  token?(id: number): void;
  /** Embedding requests: the pooled vector, just before `finished`. */
  embedding?(vector: Float32Array): void;
  /** Called exactly once. */
  finished(result: SequenceResult): void;
}

/**
 * Other weights for one sequence: a LoRA adapter on the engine's model ("model+adapter"). The
 * engine attaches it to the sequence's KV cache when the sequence is admitted (the model then
 * runs that cache's rows with the adapter, even inside a batch of other sequences) and shares
 * prefix-cache entries only between sequences of the same `variant`.
 */
export interface SequenceVariant {
  /** A name unique per engine ("" is the model's own weights). */
  readonly variant: string;
  /** Makes the model run `cache`'s rows with these weights (LoraModel.useAdapters). */
  attach(cache: KVCache): void;
}

export interface SequenceRequest {
  readonly prompt: readonly number[];
  /** Most new tokens (the caller has checked prompt + maxTokens against the context). */
  readonly maxTokens: number;
  /** Not needed for embeddings. */
  readonly chooser?: TokenChooser;
  /** Ids that end generation with "stop" and are not handed out (the model's end-of-generation set). */
  readonly stopTokens?: readonly number[];
  /** Mean-pool the final hidden states of the prompt instead of generating. */
  readonly embed?: boolean;
  /** Reuse cached prefixes and leave this sequence's cache for others when it ends. Default true. */
  readonly prefixCache?: boolean;
  /** Engine-clock milliseconds; past it the sequence ends with "timeout". */
  readonly deadline?: number;
  /** Engine-clock arrival time, for time to first token (default: submission). */
  readonly arrival?: number;
  /** Run with other weights (an adapter); default the model's own. */
  readonly weights?: SequenceVariant;
}

export interface SequenceHandle {
  /** Ends generation as complete (finish_reason "stop"): the submitter found a stop string. */
  stop(): void;
  /** Ends it at once and releases its KV cache: the client is gone. No-op once finished. */
  cancel(): void;
  readonly done: boolean;
}

export type Phase = "queued" | "prefill" | "decode" | "done";

export class Sequence implements SequenceHandle {
  phase: Phase = "queued";
  /** The prompt, then each generated token. */
  readonly tokens: number[];
  readonly promptLength: number;
  /** Prompt tokens whose K and V are in the cache. */
  prefilled = 0;
  cachedTokens = 0;
  generated = 0;
  /** The last chosen token, which the next decode step feeds. */
  next = -1;
  cache: KVCache | null = null;
  /** Speculative decoding: the draft model's cache, its proposals for this step and how many it may make. */
  draftCache: KVCache | null = null;
  readonly drafts: number[] = [];
  draftLimit = 0;
  /** Positions its cache is allocated with. */
  readonly positions: number;
  /** Engine clock: when it was queued, when its last token came out. */
  readonly arrival: number;
  lastTokenAt = 0;
  /** Embedding: the running sum of final hidden states. */
  embedSum: Float64Array | null = null;
  readonly stopTokens: ReadonlySet<number>;

  constructor(
    readonly request: SequenceRequest,
    readonly listener: SequenceListener,
    now: number,
    private readonly end: (seq: Sequence, reason: FinishReason, error?: unknown) => void,
  ) {
    this.tokens = Array.from(request.prompt);
    this.promptLength = request.prompt.length;
    // the last generated token is returned, never fed back: it needs no position
    this.positions = this.promptLength + Math.max(0, request.maxTokens - 1);
    this.arrival = request.arrival ?? now;
    this.stopTokens = new Set(request.stopTokens ?? []);
  }

  get done(): boolean {
    return this.phase === "done";
  }

  stop(): void {
    if (this.phase !== "done") this.end(this, "stop");
  }

  cancel(): void {
    if (this.phase !== "done") this.end(this, "cancelled");
  }

  result(reason: FinishReason, error?: unknown): SequenceResult {
    return {
      reason,
      promptTokens: this.promptLength,
      cachedTokens: this.cachedTokens,
      generatedTokens: this.generated,
      ...(error !== undefined ? { error } : {}),
    };
  }
}
