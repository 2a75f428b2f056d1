import type { KVCache, Model } from "@zero-llm/transformer";
import { ServeError } from "../errors";
import type { ServerMetrics } from "../metrics";
import { kvBytesPerPosition } from "./kv";
import { KvPool } from "./kv-pool";
import { addRows, meanPoolNormalized } from "./pooling";
import { BatchDrafter, type DraftOptions } from "./speculative";
import { Sequence, type FinishReason, type SequenceHandle, type SequenceListener, type SequenceRequest } from "./sequence";

export interface EngineOptions {
  /** Most sequences holding a KV cache at once; also the largest decode batch. Default 8. */
  parallel?: number;
  /** Positions per sequence (prompt + completion). Default and maximum: the model's context. */
  ctx?: number;
  /** KV-cache budget in bytes, shared by running sequences and the prefix cache. Default parallel × ctx positions. */
  kvCapacityBytes?: number;
  /** Requests that may wait for room; one more is refused (429). Default 64. */
  queueSize?: number;
  /** Longest wait in the queue before a 503 (ms). Default 30 000. */
  queueTimeoutMs?: number;
  /** Prompt tokens prefilled per loop step, shared by the sequences prefilling. Default 64. */
  prefillChunk?: number;
  /** Keep finished sequences' KV entries and reuse shared prompt prefixes. Default true. */
  prefixCache?: boolean;
  /**
   * Speculative decoding with a draft model (engine/speculative.ts): every decode step drafts a
   * few tokens per sequence with it and verifies them all in one pass. The output is the same
   * tokens as without (any seed, any settings); only the cost per token changes.
   */
  draft?: DraftOptions;
  metrics?: ServerMetrics;
  /** Milliseconds (default performance.now). */
  now?: () => number;
  /** Errors thrown inside the loop (a kernel failing): the sequences involved end with "error". */
  onError?: (error: unknown) => void;
}

/**
 * Continuous batching over one Model. A loop step, run whenever there is work and yielding to the
 * event loop in between (so sockets are read and written, requests arrive and clients leave
 * between steps):
 *
 *   1. end sequences past their deadline; admit queued requests while the KV budget and the
 *      parallel limit allow (a prompt prefix found in the prefix cache is copied, not recomputed);
 *   2. decode: every decoding sequence's next token in ONE decodeBatch pass (matrix × matrix),
 *      with the step's prompt chunks in the same pass where their rows fit (as llama.cpp's server
 *      mixes prompt and decode rows in one batch): a chunk of a few prompt tokens then costs
 *      rows of that pass, not a forward pass of its own;
 *   3. prefill: up to `prefillChunk` prompt tokens in all, oldest sequence first, so a long prompt
 *      is spread over several steps and the running streams keep getting a token each step. The
 *      chunks that did not join the decode pass (an embedding request's, which needs hidden
 *      states; any with a draft model, whose catch-up follows each chunk; one whose rows do not
 *      fit beside the decode rows) run as prefills of their own, after it.
 *
 * Admission is by memory: a sequence is given a cache of exactly the positions it can use
 * (prompt + max tokens − 1) and is admitted when its bytes fit the budget, evicting prefix-cache
 * entries least recently used first. A sequence that ends releases its cache at once, or leaves
 * it in the prefix cache when it completed normally.
 *
 * Determinism: each sequence samples from its own seeded chooser, and every forward pass computes
 * each row independently of the others in the batch (batch-invariant kernels), so the tokens of a
 * request do not depend on what else runs, nor on whether its prefix came from the cache.
 */
export class Engine {
  readonly model: Model;
  readonly parallel: number;
  readonly ctx: number;
  readonly kvCapacityBytes: number;
  readonly bytesPerPosition: number;
  readonly queueSize: number;
  readonly queueTimeoutMs: number;
  readonly prefillChunk: number;
  private readonly metrics: ServerMetrics | undefined;
  private readonly now: () => number;
  private readonly onError: (error: unknown) => void;
  private readonly queue: Sequence[] = [];
  private readonly running: Sequence[] = [];
  private readonly kv: KvPool;
  /** The draft side of speculative decoding, when a draft model is given. */
  readonly drafter: BatchDrafter | undefined;
  /** The verify pass's rows: each sequence's next token and its drafts. */
  private readonly verifyTokens: number[] = [];
  private readonly verifyCaches: KVCache[] = [];
  private hidden: Float32Array;
  private readonly batch: Sequence[] = [];
  private readonly batchTokens: number[] = [];
  private readonly batchCaches: KVCache[] = [];
  /**
   * The step's rows whose logits are sampled (decodeBatch's logitRows: every decode row, and the
   * last row of a prompt chunk that ends its prompt) and their sequences, in row order.
   */
  private readonly logitRows: number[] = [];
  private readonly logitSeqs: Sequence[] = [];
  /** Prompt chunks of the step's pass that do not end their prompt (no logits to sample). */
  private readonly partialChunks: Sequence[] = [];
  /** Prompt tokens the decode pass took from the step's prefillChunk budget. */
  private batchedPromptTokens = 0;
  /** Entries of logitSeqs already sampled (decodeBatch's onRows, in order). */
  private sampledRows = 0;
  /**
   * decodeBatch's onRows: samples entries [r0, r1) as soon as their logits are final, while the
   * backend's workers compute the next rows' (the step's sampling and SSE chunks overlap its
   * last product). A decoding sequence gets its next token, a prompt that ends in the pass its
   * first. Made once: a step allocates nothing per sequence.
   */
  private readonly sampleRows = (logits: Float32Array, r0: number, r1: number): void => {
    const vocab = this.model.config.vocabSize;
    for (let r = r0; r < r1; r++) {
      const seq = this.logitSeqs[r];
      const row = logits.subarray(r * vocab, (r + 1) * vocab);
      // a sequence ended meanwhile (a listener cancelled it) is "done" and skipped
      if (seq.phase === "decode") this.afterLogits(seq, row);
      else if (seq.phase === "prefill") this.afterPrompt(seq, row);
    }
    this.sampledRows = r1;
  };
  private scheduled = false;
  private draining = false;

  constructor(model: Model, options: EngineOptions = {}) {
    this.model = model;
    const int = (name: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
      if (!Number.isInteger(v) || v < min || v > max) {
        throw new ServeError("invalid_option", `${name}: expected an integer in [${min}, ${max}], found ${v}`);
      }
      return v;
    };
    this.parallel = int("parallel", options.parallel ?? 8, 1, model.maxBatchRows);
    this.ctx = int("ctx", options.ctx ?? model.config.seqLen, 2, model.config.seqLen);
    this.queueSize = int("queueSize", options.queueSize ?? 64, 0);
    this.queueTimeoutMs = int("queueTimeoutMs", options.queueTimeoutMs ?? 30_000, 1);
    this.prefillChunk = int("prefillChunk", options.prefillChunk ?? 64, 1);
    this.metrics = options.metrics;
    this.now = options.now ?? (() => performance.now());
    this.onError = options.onError ?? (() => {});
    const bytesPerPosition = kvBytesPerPosition(model);
    this.drafter = options.draft ? new BatchDrafter(model, options.draft) : undefined;
    const draft = this.drafter ? { model: this.drafter.model, bytesPerPosition: kvBytesPerPosition(this.drafter.model) } : undefined;
    if (draft && draft.model.config.seqLen < this.ctx) {
      throw new ServeError("invalid_option", `draft model: expected a context of at least ${this.ctx} tokens (the context per sequence), found ${draft.model.config.seqLen}`);
    }
    const perPosition = bytesPerPosition + (draft?.bytesPerPosition ?? 0);
    this.kv = new KvPool(model, bytesPerPosition, options.kvCapacityBytes ?? this.parallel * this.ctx * perPosition, options.prefixCache ?? true, this.onError, draft);
    this.kv.checkHolds(this.ctx, "one full sequence");
    this.bytesPerPosition = this.kv.bytesPerPosition;
    this.kvCapacityBytes = this.kv.capacityBytes;
    this.hidden = new Float32Array(0);
  }

  // ── what /metrics reads

  get activeSequences(): number {
    return this.running.length;
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  /** Bytes of every KV cache held: running sequences plus the prefix cache. */
  get kvCacheBytes(): number {
    return this.kv.heldBytes;
  }

  get prefixCacheBytes(): number {
    return this.kv.prefixBytes;
  }

  /** True when nothing runs or waits. */
  get idle(): boolean {
    return this.running.length === 0 && this.queue.length === 0;
  }

  // ── submitting

  /**
   * Queues a request. Throws ServeError: queue_full (429, with Retry-After) when the queue is at
   * its bound, shutting_down (503) after drain(), invalid_value when the prompt does not fit.
   */
  submit(request: SequenceRequest, listener: SequenceListener): SequenceHandle {
    if (this.draining) throw new ServeError("shutting_down", "the server is shutting down: expected no new requests, found one", { retryAfter: 5 });
    const n = request.prompt.length;
    if (n === 0) throw new ServeError("invalid_value", "prompt: expected at least 1 token, found 0", { param: "prompt" });
    if (!Number.isInteger(request.maxTokens) || request.maxTokens < 0 || n + request.maxTokens > this.ctx) {
      throw new ServeError(
        "context_length_exceeded",
        `expected prompt + max tokens ≤ the context of ${this.ctx} tokens per sequence, found ${n} + ${request.maxTokens}`,
      );
    }
    if (!request.embed && !request.chooser) throw new ServeError("invalid_value", "a generation request needs a token chooser, found none");
    const seq = new Sequence(request, listener, this.now(), (s, reason, error) => this.finish(s, reason, error));
    // admit at once when there is room and nobody is ahead; else wait in the bounded queue
    if (this.queue.length === 0 && this.tryAdmit(seq)) {
      this.schedule();
      return seq;
    }
    if (this.queue.length >= this.queueSize) {
      throw new ServeError(
        "queue_full",
        `the server is at capacity: expected a free place in the queue, found all ${this.queueSize} taken (${this.running.length} sequences running); retry later`,
        { retryAfter: this.retryAfterSeconds() },
      );
    }
    this.queue.push(seq);
    this.schedule();
    return seq;
  }

  /** Refuses new requests from now on and ends the queued ones ("shutdown"); running ones go on. */
  drain(): void {
    this.draining = true;
    for (const seq of [...this.queue]) this.finish(seq, "shutdown");
  }

  /** Ends every sequence now with `reason` and empties the prefix cache. */
  cancelAll(reason: FinishReason = "shutdown"): void {
    for (const seq of [...this.queue, ...this.running]) this.finish(seq, reason);
    this.kv.clear();
  }

  /** A Retry-After estimate: about one sequence's worth of work per queued request ahead, at least 1 s. */
  private retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.queue.length / Math.max(1, this.parallel)));
  }

  // ── the loop

  private schedule(): void {
    if (this.scheduled || this.idle) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.step();
      this.schedule();
    });
  }

  /** One loop step (see the class comment). */
  private step(): void {
    const now = this.now();
    for (const seq of [...this.queue]) {
      if (seq.request.deadline !== undefined && now > seq.request.deadline) this.finish(seq, "timeout");
      else if (now - seq.arrival > this.queueTimeoutMs) this.finish(seq, "timeout", queueTimeout(this.queueTimeoutMs));
    }
    for (const seq of [...this.running]) {
      if (seq.request.deadline !== undefined && now > seq.request.deadline) this.finish(seq, "timeout");
    }
    while (this.queue.length > 0 && this.tryAdmit(this.queue[0])) this.queue.shift();
    this.decodeStep();
    this.prefillStep(this.prefillChunk - this.batchedPromptTokens);
  }

  /** Admits `seq` if a cache of its positions fits the KV budget; false leaves it queued. */
  private tryAdmit(seq: Sequence): boolean {
    if (this.running.length >= this.parallel) return false;
    const prefixable = seq.request.prefixCache !== false && !seq.request.embed;
    const prompt = seq.tokens.slice(0, seq.promptLength);
    const variant = seq.request.weights?.variant ?? "";
    let cache: KVCache | null;
    try {
      cache = this.kv.allocate(seq.positions, prefixable ? prompt : undefined, variant);
    } catch (e) {
      this.finish(seq, "error", e);
      return true; // it left the queue, with an error
    }
    if (!cache) return false;
    try {
      seq.request.weights?.attach(cache);
    } catch (e) {
      this.kv.release(cache);
      this.finish(seq, "error", e);
      return true;
    }
    seq.cache = cache;
    if (this.drafter && !seq.request.embed) seq.draftCache = this.kv.allocateDraft(seq.positions);
    this.running.push(seq);
    seq.phase = "prefill";
    if (prefixable) {
      const sources = this.running
        .filter((s) => s !== seq && s.cache)
        .map((s) => ({ tokens: s.tokens, cache: s.cache as KVCache, variant: s.request.weights?.variant ?? "" }));
      const reused = this.kv.reusePrefix(cache, prompt, sources, variant);
      if (reused > 0) {
        seq.prefilled = seq.cachedTokens = reused;
        this.metrics?.prefixCacheHits.inc();
        this.metrics?.prefixCacheTokensReused.inc({}, reused);
      }
    }
    this.metrics?.promptTokens.inc({}, seq.promptLength);
    this.notify(() => seq.listener.admitted?.(seq.cachedTokens));
    return true;
  }

  /**
   * The next token of every decoding sequence, in one batched forward pass, with the step's
   * prompt chunks that fit in it (see batchPromptChunks).
   */
  private decodeStep(): void {
    // the step's rows, in arrays kept between steps (a step allocates nothing per sequence)
    const { batch, batchTokens, batchCaches, logitRows, logitSeqs } = this;
    batch.length = batchTokens.length = batchCaches.length = logitRows.length = logitSeqs.length = 0;
    this.partialChunks.length = 0;
    this.batchedPromptTokens = 0;
    for (const seq of this.running) {
      if (seq.phase !== "decode" || !seq.cache) continue;
      logitRows.push(batch.length);
      logitSeqs.push(seq);
      batch.push(seq);
      batchTokens.push(seq.next);
      batchCaches.push(seq.cache);
    }
    if (this.drafter) {
      if (batch.length > 0) this.speculativeStep(this.drafter, batch);
      return;
    }
    this.batchPromptChunks();
    if (batch.length === 0) return;
    this.sampledRows = 0;
    let logits: Float32Array;
    try {
      logits = this.model.decodeBatch(batchTokens, batchCaches, this.sampleRows, logitRows);
    } catch (e) {
      // the sequences sampled before it have their token
      this.failAll([...logitSeqs.slice(this.sampledRows), ...this.partialChunks], e);
      return;
    }
    // a model that does not call onRows (or not for every row): the rest now, as before
    if (this.sampledRows < logitSeqs.length) this.sampleRows(logits, this.sampledRows, logitSeqs.length);
  }

  /**
   * Adds the step's prompt chunks to the decode pass's rows: the prefillChunk budget handed out
   * oldest sequence first, as prefillStep does, and a chunk joins the pass when it may (not an
   * embedding request: those need hidden states) and all its rows fit beside the others
   * (maxBatchRows); the rest are left to prefillStep, which takes what the pass did not.
   *
   * A prompt row in the pass is bit for bit what prefill computes for it (batch-invariant
   * kernels; transformer's infer-block-parity test: a chunk's rows, its cache entries and its
   * last row's logits), so a request's output does not depend on which way its prompt went.
   * Only a chunk that ends its prompt has a row sampled (its last, through logitRows: the others'
   * lm_head is skipped, as prefill skips it).
   */
  private batchPromptChunks(): void {
    const { batch, batchTokens, batchCaches, logitRows, logitSeqs } = this;
    let budget = this.prefillChunk;
    for (const seq of this.running) {
      if (budget === 0) break;
      if (seq.phase !== "prefill" || !seq.cache) continue;
      const take = Math.min(budget, seq.promptLength - seq.prefilled);
      budget -= take;
      if (seq.request.embed || batch.length + take > this.model.maxBatchRows) continue; // prefillStep's
      for (let i = 0; i < take; i++) {
        batch.push(seq);
        batchTokens.push(seq.tokens[seq.prefilled + i]);
        batchCaches.push(seq.cache);
      }
      seq.prefilled += take;
      this.batchedPromptTokens += take;
      if (seq.prefilled === seq.promptLength) {
        logitRows.push(batch.length - 1);
        logitSeqs.push(seq);
      } else {
        this.partialChunks.push(seq);
      }
    }
  }

  /**
   * A decode step with drafts (engine/speculative.ts): the draft model proposes, one ragged
   * decodeBatch of the target scores every sequence's [next, d₁ … d_k], and each sequence walks
   * its rows with its own chooser, going on while the chosen token equals the draft. Sequences
   * are grouped into passes of at most maxBatchRows rows.
   */
  private speculativeStep(drafter: BatchDrafter, batch: readonly Sequence[]): void {
    try {
      drafter.propose(batch);
    } catch (e) {
      this.failAll([...batch], e);
      return;
    }
    const limit = this.model.maxBatchRows;
    const vocab = this.model.config.vocabSize;
    const { verifyTokens, verifyCaches } = this;
    for (let first = 0; first < batch.length; ) {
      // one pass: as many whole sequences as fit
      verifyTokens.length = verifyCaches.length = 0;
      let end = first;
      while (end < batch.length && verifyTokens.length + 1 + batch[end].drafts.length <= limit) {
        const seq = batch[end++];
        const cache = seq.cache as KVCache;
        verifyTokens.push(seq.next, ...seq.drafts);
        for (let i = 0; i <= seq.drafts.length; i++) verifyCaches.push(cache);
      }
      const group = batch.slice(first, end);
      first = end;
      let logits: Float32Array;
      try {
        logits = this.model.decodeBatch(verifyTokens, verifyCaches);
      } catch (e) {
        this.failAll(group, e);
        continue;
      }
      let row = 0;
      for (const seq of group) {
        const drafts = seq.drafts;
        const k = drafts.length;
        const cache = seq.cache;
        if (seq.phase !== "decode" || !cache) {
          row += k + 1; // ended by an earlier row's listener (a sibling choice failed, the client left)
          continue;
        }
        // the pass filled [next, d₁ … d_k]; commit `next` and go on one position per accepted draft
        const committed = cache.length - k;
        cache.truncate(committed);
        for (let i = 0; i <= k && seq.phase === "decode"; i++) {
          this.afterLogits(seq, logits.subarray((row + i) * vocab, (row + i + 1) * vocab));
          if (seq.phase !== "decode" || i === k || seq.next !== drafts[i]) break;
          cache.advance(1); // the draft the chooser agreed with: its row is already in the cache
          drafter.accepted++;
          this.metrics?.draftTokensAccepted.inc();
        }
        this.metrics?.draftTokens.inc({}, k);
        if (seq.cache) drafter.rewind(seq, cache.length); // still running: its draft cache keeps what was committed
        row += k + 1;
      }
    }
  }

  /**
   * Up to `budget` prompt tokens (what the decode pass left of prefillChunk), oldest sequences
   * first, each chunk a prefill of its own.
   */
  private prefillStep(budget: number): void {
    if (budget === 0) return;
    for (const seq of this.running.filter((s) => s.phase === "prefill")) {
      if (budget === 0) break;
      if (seq.phase !== "prefill" || !seq.cache) continue;
      const take = Math.min(budget, seq.promptLength - seq.prefilled);
      budget -= take;
      const chunk = seq.tokens.slice(seq.prefilled, seq.prefilled + take);
      const last = seq.prefilled + take === seq.promptLength;
      try {
        if (seq.request.embed) {
          this.embedChunk(seq, chunk, seq.cache);
        } else {
          const { logits } = this.model.prefill(chunk, seq.cache);
          seq.prefilled += take;
          this.drafter?.catchUp(seq, seq.prefilled);
          if (last) this.afterPrompt(seq, logits);
        }
      } catch (e) {
        this.finish(seq, "error", e);
        this.onError(e);
      }
    }
  }

  private embedChunk(seq: Sequence, chunk: number[], cache: KVCache): void {
    const dim = this.model.config.dim;
    if (this.hidden.length < chunk.length * dim) this.hidden = new Float32Array(chunk.length * dim);
    this.model.prefill(chunk, cache, { hiddenStates: this.hidden });
    seq.embedSum ??= new Float64Array(dim);
    addRows(seq.embedSum, this.hidden, chunk.length);
    seq.prefilled += chunk.length;
    if (seq.prefilled < seq.promptLength) return;
    const vector = meanPoolNormalized(seq.embedSum, seq.promptLength);
    this.notify(() => seq.listener.embedding?.(vector));
    this.finish(seq, "stop");
  }

  private afterPrompt(seq: Sequence, logits: Float32Array): void {
    if (seq.request.maxTokens === 0) {
      this.finish(seq, "length");
      return;
    }
    this.afterLogits(seq, logits);
  }

  /** Chooses the token after `logits`, hands it out, and decides whether the sequence goes on. */
  private afterLogits(seq: Sequence, logits: Float32Array): void {
    const chooser = seq.request.chooser;
    if (!chooser) throw new ServeError("internal_error", "a generating sequence has no chooser");
    let id: number;
    try {
      id = chooser.choose(logits, seq.tokens, seq.promptLength);
    } catch (e) {
      this.finish(seq, "error", e);
      this.onError(e);
      return;
    }
    if (this.model.config.vocabSize <= id || id < 0) {
      this.finish(seq, "error", new ServeError("internal_error", `chooser: expected an id in [0, ${this.model.config.vocabSize}), found ${id}`));
      return;
    }
    if (seq.stopTokens.has(id)) {
      this.finish(seq, "stop");
      return;
    }
    const now = this.now();
    if (seq.generated === 0) this.metrics?.timeToFirstToken.observe((now - seq.arrival) / 1000);
    else this.metrics?.interTokenLatency.observe((now - seq.lastTokenAt) / 1000);
    seq.lastTokenAt = now;
    seq.tokens.push(id);
    seq.generated++;
    this.metrics?.generatedTokens.inc();
    try {
      seq.listener.token?.(id);
    } catch (e) {
      this.onError(e); // as notify(), without a closure per token
    }
    if (seq.phase === "done") return; // the listener stopped or cancelled it
    const cache = seq.cache as KVCache;
    if (seq.generated >= seq.request.maxTokens || cache.length >= cache.capacity) {
      this.finish(seq, "length");
      return;
    }
    seq.next = id;
    seq.phase = "decode";
  }

  /**
   * Calls a listener. What a listener throws is reported (onError), never let through: the loop
   * runs in a setImmediate callback, where an exception would end the process and every other
   * request with it.
   */
  private notify(call: () => void): void {
    try {
      call();
    } catch (e) {
      this.onError(e);
    }
  }

  private failAll(batch: readonly Sequence[], error: unknown): void {
    for (const seq of batch) this.finish(seq, "error", error);
    this.onError(error);
  }

  /** Ends a sequence: out of the queue or the batch, its cache released or kept as a prefix, then the listener told. */
  private finish(seq: Sequence, reason: FinishReason, error?: unknown): void {
    if (seq.phase === "done") return;
    const wasQueued = seq.phase === "queued";
    seq.phase = "done";
    if (wasQueued) {
      const i = this.queue.indexOf(seq);
      if (i >= 0) this.queue.splice(i, 1);
    } else {
      const i = this.running.indexOf(seq);
      if (i >= 0) this.running.splice(i, 1);
    }
    const cache = seq.cache;
    seq.cache = null;
    if (seq.draftCache) {
      this.kv.releaseDraft(seq.draftCache);
      seq.draftCache = null;
    }
    if (cache) {
      const complete = reason === "stop" || reason === "length";
      const keep = complete && seq.request.prefixCache !== false && !seq.request.embed;
      this.kv.release(cache, keep ? seq.tokens : undefined, seq.request.weights?.variant ?? "");
    }
    this.notify(() => seq.listener.finished(seq.result(reason, error)));
    this.schedule(); // room may have opened for the queue
  }
}

function queueTimeout(ms: number): ServeError {
  return new ServeError("queue_timeout", `the server is busy: expected a free KV-cache slot within ${ms} ms, found none; retry later`, { retryAfter: 1 });
}
