import { Sampler } from "@zero-llm/sampling";
import type { WasmBackend } from "@zero-llm/tensor";
import { generate, type Model } from "@zero-llm/transformer";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Engine, ServeError, ServerMetrics, type SequenceResult, type TokenChooser } from "../src/index";
import { haveDefaultModel, openModel } from "./helpers";

type Opened = Awaited<ReturnType<typeof openModel>>;

/** A seeded sampler as a chooser (the same stream as `generate` with the same Sampler). */
function seeded(seed: number, temperature = 0.9): TokenChooser {
  const sampler = new Sampler({ seed, temperature, topP: 0.95 });
  return { choose: (logits, tokens) => sampler.sample(logits, tokens) };
}

interface Run {
  tokens: number[];
  result: Promise<SequenceResult>;
  cancel(): void;
  admittedWith: number | undefined;
}

function run(engine: Engine, prompt: number[], maxTokens: number, chooser: TokenChooser, extra: { prefixCache?: boolean; onToken?: (n: number) => void } = {}): Run {
  const tokens: number[] = [];
  let resolve!: (r: SequenceResult) => void;
  const result = new Promise<SequenceResult>((r) => (resolve = r));
  const out: Run = { tokens, result, cancel: () => {}, admittedWith: undefined };
  const handle = engine.submit(
    { prompt, maxTokens, chooser, ...(extra.prefixCache !== undefined ? { prefixCache: extra.prefixCache } : {}) },
    {
      admitted: (cached) => (out.admittedWith = cached),
      token: (id) => {
        tokens.push(id);
        extra.onToken?.(tokens.length);
      },
      finished: resolve,
    },
  );
  out.cancel = () => handle.cancel();
  return out;
}

// prompts in the default model's vocabulary (ids < 2048), bos 2047 first as the server sends them
const PROMPT = [2047, 332, 502, 1153, 558, 286, 1000, 44];
const OTHERS = [[2047, 12, 99, 400], [2047, 7], [2047, 1500, 3, 3, 3, 900], [2047, 640, 641], [2047, 88, 77, 66, 55, 44, 33]];

describe.skipIf(!haveDefaultModel)("engine on the default model", () => {
  let js: Opened;
  let wasm: Opened;
  beforeAll(async () => {
    js = await openModel("js");
    wasm = await openModel("wasm");
  });
  afterAll(async () => {
    await js?.dispose();
    await wasm?.dispose();
  });

  it("greedy output equals the transformer's own generate()", async () => {
    const engine = new Engine(js.served.model, { parallel: 4 });
    const greedy: TokenChooser = { choose: (logits, tokens) => new Sampler({ temperature: 0 }).sample(logits, tokens) };
    const r = run(engine, PROMPT, 24, greedy);
    const result = await r.result;
    const reference = [...generate(js.served.model, PROMPT, { maxTokens: 24 })];
    expect(result.reason).toBe("length");
    expect(r.tokens).toEqual(reference);
  });

  it("stops at an end-of-generation id without handing it out", async () => {
    const engine = new Engine(js.served.model);
    // a chooser that picks the eos id on its third call
    let calls = 0;
    const chooser: TokenChooser = { choose: () => (++calls === 3 ? 2047 : 10 + calls) };
    const tokens: number[] = [];
    const result = await new Promise<SequenceResult>((resolve) =>
      engine.submit({ prompt: PROMPT, maxTokens: 50, chooser, stopTokens: [2047] }, { token: (id) => tokens.push(id), finished: resolve }),
    );
    expect(result).toMatchObject({ reason: "stop", generatedTokens: 2 });
    expect(tokens).toEqual([11, 12]);
  });

  it("a long prompt is prefilled in chunks while a running stream keeps getting a token every step", async () => {
    const engine = new Engine(js.served.model, { prefillChunk: 8 });
    const ctx = engine.ctx;
    const running = run(engine, PROMPT, ctx - PROMPT.length, seeded(1));
    await new Promise((r) => setTimeout(r, 0));
    while (running.tokens.length < 2) await new Promise((r) => setImmediate(r));
    const long = Array.from({ length: 96 }, (_, i) => (i * 37) % 2000);
    let atAdmission = -1;
    let atFirstToken = -1;
    const tokens: number[] = [];
    const done = new Promise<SequenceResult>((resolve) =>
      engine.submit({ prompt: long, maxTokens: 4, chooser: seeded(2) }, {
        admitted: () => (atAdmission = running.tokens.length),
        token: (id) => {
          if (tokens.length === 0) atFirstToken = running.tokens.length;
          tokens.push(id);
        },
        finished: resolve,
      }),
    );
    await done;
    running.cancel();
    // 96 tokens in chunks of 8: 12 steps of prefill, each with a decode step for the running stream
    expect(atFirstToken - atAdmission).toBeGreaterThanOrEqual(11);
  });

  it("admits by KV memory, queues within a bound (429 past it), and admits the queue as room frees", async () => {
    const probe = new Engine(js.served.model);
    const bpp = probe.bytesPerPosition;
    const ctx = probe.ctx;
    // room for one full context (as required) and so for ⌊max(40, ctx) / 20⌋ sequences of
    // 5 + 16 − 1 = 20 positions; parallel is no bound here (64 > that count), memory is
    // the queued request waits for the first batch to finish: no queue deadline here (a loaded
    // machine can take longer than the default 30 s; the deadline has its own test below)
    const engine = new Engine(js.served.model, { parallel: 64, kvCapacityBytes: Math.max(40, ctx) * bpp, queueSize: 1, prefixCache: false, queueTimeoutMs: 3_600_000 });
    const sizeOf = 20;
    const fits = Math.floor(engine.kvCapacityBytes / (sizeOf * bpp));
    expect(fits).toBeLessThan(engine.parallel);
    const runs = Array.from({ length: fits }, (_, i) => run(engine, [2047, 1, 2, 3, 4 + i], 16, seeded(i)));
    expect(engine.activeSequences).toBe(fits);
    const queued = run(engine, [2047, 9, 9, 9, 9], 16, seeded(9));
    expect(engine.queueDepth).toBe(1);
    let refused: unknown;
    try {
      run(engine, [2047, 8, 8, 8, 8], 16, seeded(8));
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(ServeError);
    expect(refused).toMatchObject({ code: "queue_full", status: 429 });
    expect((refused as ServeError).retryAfter).toBeGreaterThanOrEqual(1);
    for (const r of runs) expect((await r.result).reason).toBe("length");
    expect((await queued.result).reason).toBe("length");
    expect(queued.tokens).toHaveLength(16);
    expect(engine.kvCacheBytes).toBe(0);
  });

  it("a request that waits too long in the queue ends with a 503 queue_timeout", async () => {
    const probe = new Engine(js.served.model);
    const engine = new Engine(js.served.model, { parallel: 1, queueTimeoutMs: 30 });
    // a slow chooser (5 ms a token) keeps the one slot busy past the queue timeout
    const slow: TokenChooser = {
      choose: () => {
        const end = performance.now() + 5;
        while (performance.now() < end);
        return 5;
      },
    };
    const busy = run(engine, PROMPT, Math.min(30, probe.ctx - PROMPT.length), slow);
    const waiting = run(engine, PROMPT, 4, seeded(1));
    const result = await waiting.result;
    expect(result.reason).toBe("timeout");
    expect(result.error).toMatchObject({ code: "queue_timeout", status: 503 });
    busy.cancel();
  });

  it("refuses a prompt that does not fit its context, stating both numbers", () => {
    const engine = new Engine(js.served.model);
    const long = new Array<number>(engine.ctx).fill(5);
    expect(() => engine.submit({ prompt: long, maxTokens: 1, chooser: seeded(1) }, { finished: () => {} }))
      .toThrow(new RegExp(`context of ${engine.ctx} tokens.*${engine.ctx} \\+ 1`));
  });

  it("cancel releases the cache at once (wasm heap back to idle) and leaves the other streams' tokens unchanged", async () => {
    const model = wasm.served.model;
    const backend = wasm.backend as WasmBackend;
    const alone = run(new Engine(model, { prefixCache: false }), OTHERS[0], 20, seeded(11));
    await alone.result;
    const engine = new Engine(model, { prefixCache: false });
    const heapIdle = backend.usedBytes;
    const kept = run(engine, OTHERS[0], 20, seeded(11));
    const doomedBytes = (OTHERS[1].length + 40 - 1) * engine.bytesPerPosition; // prompt + max tokens − 1 positions
    const doomed: Run = run(engine, OTHERS[1], 40, seeded(12), {
      onToken: (n) => {
        if (n !== 5) return;
        const before = engine.kvCacheBytes;
        doomed.cancel();
        // released synchronously, inside the engine's step
        expect(engine.kvCacheBytes).toBe(before - doomedBytes);
      },
    });
    expect((await doomed.result).reason).toBe("cancelled");
    expect(doomed.tokens).toHaveLength(5);
    expect((await kept.result).reason).toBe("length");
    expect(kept.tokens).toEqual(alone.tokens);
    expect(engine.activeSequences).toBe(0);
    expect(engine.kvCacheBytes).toBe(0);
    expect(backend.usedBytes).toBe(heapIdle);
  });

  it("prefix cache: a prompt extending a finished one copies its KV entries, counts them, and gives the same tokens", async () => {
    const metrics = new ServerMetrics();
    const engine = new Engine(js.served.model, { metrics });
    const first = run(engine, PROMPT, 6, seeded(3));
    await first.result;
    expect(engine.prefixCacheBytes).toBeGreaterThan(0);
    // the next "turn": the first prompt, its reply, then more
    const next = [...PROMPT, ...first.tokens, 300, 301];
    const cached = run(engine, next, 10, seeded(4));
    const r = await cached.result;
    // every position the first sequence filled: its prompt and all but its last token
    expect(r.cachedTokens).toBe(PROMPT.length + first.tokens.length - 1);
    expect(metrics.prefixCacheHits.get()).toBe(1);
    expect(metrics.prefixCacheTokensReused.get()).toBe(r.cachedTokens);
    const fresh = run(new Engine(js.served.model, { prefixCache: false }), next, 10, seeded(4));
    await fresh.result;
    expect(cached.tokens).toEqual(fresh.tokens);
  });

  it("an engine refuses options it cannot honour", () => {
    const model = js.served.model;
    expect(() => new Engine(model, { ctx: model.config.seqLen + 1 })).toThrow(/ctx: expected an integer in \[2, /);
    expect(() => new Engine(model, { parallel: model.maxBatchRows + 1 })).toThrow(/parallel/);
    expect(() => new Engine(model, { kvCapacityBytes: 100 })).toThrow(/at least one full sequence/);
  });
});

/**
 * The determinism guarantee: the same request with the same seed gives the same tokens alone, in
 * a batch with others, and with its prefix from the prefix cache. Each sequence has its own seeded
 * stream; what makes it hold in general is that every row of a forward pass is computed
 * independently of the other rows (batch-invariant kernels): checked bit for bit below, on the
 * js backend and on the wasm backend (whose batched linear sums every output in the decode
 * kernel's order, packages/tensor/assembly/linear.ts).
 */
describe.skipIf(!haveDefaultModel)("determinism: alone = batched = prefix-cached", () => {
  for (const kind of ["js", "wasm"] as const) {
    it(`${kind} backend: the same tokens`, async () => {
      const opened = await openModel(kind);
      try {
        const model = opened.served.model;
        const request = (engine: Engine): Run => run(engine, PROMPT, 24, seeded(42, 1.0));
        const alone = request(new Engine(model, { prefixCache: false }));
        await alone.result;

        const busy = new Engine(model, { prefixCache: false });
        const others = OTHERS.map((p, i) => run(busy, p, 40, seeded(100 + i)));
        while (others[0].tokens.length < 3) await new Promise((r) => setImmediate(r));
        const batched = request(busy);
        await Promise.all([batched.result, ...others.map((o) => o.result)]);

        const cachedEngine = new Engine(model);
        const warm = run(cachedEngine, PROMPT.slice(0, 5), 3, seeded(7));
        await warm.result;
        const cached = request(cachedEngine);
        const r = await cached.result;
        expect(r.cachedTokens).toBeGreaterThan(0);

        expect(batched.tokens).toEqual(alone.tokens);
        expect(cached.tokens).toEqual(alone.tokens);
      } finally {
        await opened.dispose();
      }
    });

    it(`${kind} backend: a prompt whose chunks go into the decode pass or through a prefill of their own gives generate()'s tokens`, async () => {
      const opened = await openModel(kind);
      try {
        const model = opened.served.model;
        // 70 tokens: a first chunk of 64 (prefillChunk's default), then 6
        const long = Array.from({ length: 70 }, (_, i) => (i === 0 ? 2047 : (i * 53 + 11) % 2000));
        const sampler = (): Sampler => new Sampler({ seed: 5, temperature: 1 });
        const reference = [...generate(model, long, { maxTokens: 12, sampler: sampler() })]; // model.prefill, then decode
        const chooser = (): TokenChooser => {
          const s = sampler();
          return { choose: (logits, tokens) => s.sample(logits, tokens) };
        };
        const prefills = vi.spyOn(model, "prefill"); // which way each chunk went
        // alone: both chunks are rows of the step's pass (no decode rows beside them)
        const alone = run(new Engine(model, { prefixCache: false }), long, 12, chooser());
        await alone.result;
        expect(prefills).not.toHaveBeenCalled();
        // beside a running stream: the 64-token chunk does not fit beside its decode row (65 >
        // maxBatchRows 64) and is prefilled on its own; the 6 left join the decode pass
        expect(model.maxBatchRows).toBe(64);
        const busy = new Engine(model, { prefixCache: false });
        const other = run(busy, OTHERS[0], 60, seeded(9));
        while (other.tokens.length < 2) await new Promise((r) => setImmediate(r));
        const beside = run(busy, long, 12, chooser());
        await beside.result;
        other.cancel();
        expect(prefills.mock.calls.map(([tokens]) => tokens.length)).toEqual([64]);
        prefills.mockRestore();
        expect(alone.tokens).toEqual(reference);
        expect(beside.tokens).toEqual(reference);
      } finally {
        await opened.dispose();
      }
    });

    it(`${kind} backend: a row's logits are bit-identical alone and in a batch (of 2, 3, 8, 33 rows)`, async () => {
      const opened = await openModel(kind);
      try {
        expect(batchInvariant(opened.served.model)).toBe(true);
      } finally {
        await opened.dispose();
      }
    });
  }
});

/**
 * Threads: on 2 threads the wasm backend splits a batch's products across the pool (33 rows of
 * the default model are past WasmBackendOptions.parallelMinMacs) and keeps single rows on the
 * caller; either way a row's logits must be the bits of the 1-thread backend's, so the
 * determinism guarantee holds whatever --threads the server runs with.
 */
describe.skipIf(!haveDefaultModel)("determinism across thread counts", () => {
  it("wasm backend, 2 threads: every row's logits equal 1 thread's, bit for bit, alone and in batches of 2, 8, 33 rows", async () => {
    const one = await openModel("wasm", 64, 1), two = await openModel("wasm", 64, 2);
    try {
      expect(batchInvariant(two.served.model)).toBe(true);
      for (const rows of [1, 2, 8, 33]) {
        const logits = [one, two].map(({ served: { model } }) => {
          const caches = Array.from({ length: rows }, (_, r) => {
            const cache = model.newCache({ capacity: 8 });
            model.prefill([2047, (r * 17) % 2000, (r * 5 + 3) % 2000], cache);
            return cache;
          });
          return new Uint32Array(Float32Array.from(model.decodeBatch(caches.map((_, r) => (r * 11 + 4) % 2000), caches)).buffer);
        });
        expect(logits[1]).toEqual(logits[0]);
      }
    } finally {
      await one.dispose();
      await two.dispose();
    }
  });

  // decodeBatch's onRows: the pool computes the lm_head's later rows while the engine samples
  // the first ones (from 8 rows on); the rows handed over must be final and the tokens unchanged
  it("wasm backend, 2 threads: rows handed to onRows in order, final, the same logits; the engine's tokens alone = batched", async () => {
    const two = await openModel("wasm", 64, 2);
    try {
      const model = two.served.model;
      const rows = 12;
      const newCaches = () => Array.from({ length: rows }, (_, r) => {
        const cache = model.newCache({ capacity: 8 });
        model.prefill([2047, (r * 17) % 2000, (r * 5 + 3) % 2000], cache);
        return cache;
      });
      const tokens = Array.from({ length: rows }, (_, r) => (r * 11 + 4) % 2000);
      const bitsOf = (a: Float32Array): number[] => Array.from(new Uint32Array(Float32Array.from(a).buffer));
      const plain = bitsOf(model.decodeBatch(tokens, newCaches()));
      const vocab = model.config.vocabSize;
      const ranges: Array<[number, number]> = [];
      const handed: number[] = [];
      const logits = model.decodeBatch(tokens, newCaches(), (rowsLogits, r0, r1) => {
        ranges.push([r0, r1]);
        handed.push(...bitsOf(rowsLogits.subarray(r0 * vocab, r1 * vocab))); // as they are when handed over
      });
      expect(ranges.length).toBeGreaterThan(1);
      expect(ranges[0][0]).toBe(0);
      for (let i = 1; i < ranges.length; i++) expect(ranges[i][0]).toBe(ranges[i - 1][1]);
      expect(ranges[ranges.length - 1][1]).toBe(rows);
      expect(handed).toEqual(plain);
      expect(bitsOf(logits)).toEqual(plain);

      const prompts = [PROMPT, ...OTHERS, ...OTHERS.map((p) => [...p, 5, 6])];
      const alone: number[][] = [];
      for (const [i, p] of prompts.entries()) {
        const one = run(new Engine(model, { prefixCache: false }), p, 12, seeded(300 + i));
        await one.result;
        alone.push(one.tokens);
      }
      const busy = new Engine(model, { prefixCache: false, parallel: 16 });
      const batched = prompts.map((p, i) => run(busy, p, 12, seeded(300 + i)));
      await Promise.all(batched.map((b) => b.result));
      expect(batched.map((b) => b.tokens)).toEqual(alone);
    } finally {
      await two.dispose();
    }
  });
});

/**
 * Every row of a batched decode step equals the same token decoded alone (model.decode, the
 * matrix × vector path), bit for bit, for batches of 2, 3, 8 and 33 rows (odd sizes reach the
 * kernel's single-row remainder), with each row at a different position.
 */
function batchInvariant(model: Model): boolean {
  for (const rows of [2, 3, 8, 33]) {
    const prompts = Array.from({ length: rows }, (_, r) => [2047, ...Array.from({ length: 1 + (r % 5) }, (_, i) => (r * 31 + i * 7) % 2000)]);
    const caches = prompts.map((p) => {
      const cache = model.newCache({ capacity: 8 });
      model.prefill(p, cache);
      return cache;
    });
    const tokens = prompts.map((_, r) => (r * 13 + 9) % 2000);
    const batched = Float32Array.from(model.decodeBatch(tokens, caches));
    const vocab = model.config.vocabSize;
    for (let r = 0; r < rows; r++) {
      const single = model.newCache({ capacity: 8 });
      model.prefill(prompts[r], single);
      const alone = model.decode(tokens[r], single);
      for (let i = 0; i < vocab; i++) if (alone[i] !== batched[r * vocab + i]) return false;
    }
  }
  return true;
}
