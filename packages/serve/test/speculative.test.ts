// Speculative decoding inside the batch loop: with a draft model the engine emits the very tokens
// it emits without one (greedy and seeded sampling, alone and batched), whatever the draft
// proposes; a draft that is the model itself has every proposal accepted (the ragged verify pass
// is bit for bit the one-token decode); caches and the KV budget come back as without a draft.
import { Sampler } from "@zero-llm/sampling";
import { Model, randomWeights, type Config } from "@zero-llm/transformer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine, ServeError, ServerMetrics, type DraftOptions, type SequenceHandle, type SequenceResult, type TokenChooser } from "../src/index";
import { haveDefaultModel, metric, openModel } from "./helpers";

type Opened = Awaited<ReturnType<typeof openModel>>;

const PROMPTS = [
  [2047, 332, 502, 1153, 558, 286, 1000, 44],
  [2047, 12, 99, 400],
  [2047, 7],
  [2047, 1500, 3, 3, 3, 900],
  [2047, 640, 641],
  [2047, 88, 77, 66, 55, 44, 33],
];

function chooser(kind: "greedy" | "seeded", seed: number): TokenChooser {
  const sampler = new Sampler(kind === "greedy" ? { temperature: 0 } : { seed, temperature: 0.9, topP: 0.95, repetitionPenalty: 1.1 });
  return { choose: (logits, tokens) => sampler.sample(logits, tokens) };
}

interface Outcome {
  tokens: number[][];
  results: SequenceResult[];
}

/** Every prompt at once (one batch), each with its own chooser; maxTokens differ so sequences leave at different steps. */
async function runAll(engine: Engine, kind: "greedy" | "seeded", stopAt?: number): Promise<Outcome> {
  const tokens = PROMPTS.map(() => [] as number[]);
  const results = await Promise.all(
    PROMPTS.map(
      (prompt, i) =>
        new Promise<SequenceResult>((resolve) => {
          const handle = engine.submit(
            { prompt, maxTokens: 20 + 7 * i, chooser: chooser(kind, 100 + i), stopTokens: [2047] },
            {
              token: (id) => {
                tokens[i].push(id);
                // a stop string found by the submitter, in the middle of an accepted run of drafts
                if (stopAt !== undefined && i === 1 && tokens[i].length === stopAt) handle.stop();
              },
              finished: resolve,
            },
          );
        }),
    ),
  );
  return { tokens, results };
}

/** A small random llama with the default model's vocabulary: a draft that is mostly wrong. */
const RANDOM_DRAFT: Config = {
  arch: "llama", dim: 32, hiddenDim: 64, nLayers: 1, nHeads: 2, nKvHeads: 1, vocabSize: 2048, seqLen: 512,
  normEps: 1e-5, ropeTheta: 10000, ropeStyle: "interleaved", tiedEmbeddings: true,
};

describe.skipIf(!haveDefaultModel)("speculative decoding in the batch loop", () => {
  for (const kind of ["js", "wasm"] as const) {
    describe(kind, () => {
      let target: Opened;
      let selfDraft: Model;
      let randomDraft: Model;
      beforeAll(async () => {
        target = await openModel(kind);
        // the same weights as a second Model: a draft whose proposals the target always agrees with at greedy
        selfDraft = new Model(target.served.model.config, target.served.model.weights, { backend: target.backend, maxBatchRows: 64 });
        randomDraft = new Model(RANDOM_DRAFT, randomWeights(RANDOM_DRAFT, { seed: 5, backend: target.backend }), { backend: target.backend, maxBatchRows: 64 });
      });
      afterAll(async () => {
        await target?.dispose();
      });

      const drafts = (): Array<[string, DraftOptions]> => [
        ["the model itself as its draft", { model: selfDraft, maxTokens: 6, pMin: 0 }],
        ["a random draft", { model: randomDraft, maxTokens: 4, pMin: 0 }],
        ["the model itself, p-min 0.75", { model: selfDraft, maxTokens: 8 }],
      ];

      // the js backend (slow kernels) runs the greedy case; wasm runs everything
      for (const sampling of kind === "js" ? (["greedy"] as const) : (["greedy", "seeded"] as const)) {
        it(`${sampling}: the same tokens with and without a draft, six sequences batched`, async () => {
          const plain = await runAll(new Engine(target.served.model, { parallel: 8 }), sampling);
          for (const [name, draft] of drafts()) {
            const metrics = new ServerMetrics();
            const engine = new Engine(target.served.model, { parallel: 8, draft, metrics });
            const spec = await runAll(engine, sampling);
            expect(spec.tokens, name).toEqual(plain.tokens);
            expect(spec.results.map((r) => [r.reason, r.generatedTokens]), name).toEqual(plain.results.map((r) => [r.reason, r.generatedTokens]));
            const text = metrics.render();
            const proposed = metric(text, "zllm_draft_tokens_total");
            const accepted = metric(text, "zllm_draft_tokens_accepted_total");
            expect(proposed, name).toBeGreaterThan(0);
            if (draft.model === selfDraft && sampling === "greedy") expect(accepted, name).toBe(proposed); // bit-exact verify
            if (draft.model === selfDraft) expect(accepted, name).toBeGreaterThan(0);
            // every draft cache went back: what is held is the prefix cache's
            expect(engine.kvCacheBytes, name).toBe(engine.prefixCacheBytes);
            expect(engine.activeSequences).toBe(0);
          }
        });
      }

      it("a sequence stopped in the middle of an accepted run ends where it ends without a draft", async () => {
        const plain = await runAll(new Engine(target.served.model, { parallel: 8 }), "greedy", 5);
        const spec = await runAll(new Engine(target.served.model, { parallel: 8, draft: { model: selfDraft, maxTokens: 6, pMin: 0 } }), "greedy", 5);
        expect(spec.tokens[1]).toHaveLength(5);
        expect(spec.tokens).toEqual(plain.tokens);
      });

      it.skipIf(kind === "js")("cancelled sequences free their draft caches at once; the others' tokens are unchanged", async () => {
        const draft: DraftOptions = { model: selfDraft, maxTokens: 4, pMin: 0 };
        const plain = await runAll(new Engine(target.served.model, { parallel: 8 }), "seeded");
        const engine = new Engine(target.served.model, { parallel: 8, draft, prefixCache: false });
        const tokens = PROMPTS.map(() => [] as number[]);
        const handles: SequenceHandle[] = [];
        const results = await Promise.all(
          PROMPTS.map(
            (prompt, i) =>
              new Promise<SequenceResult>((resolve) => {
                const handle = engine.submit(
                  { prompt, maxTokens: 20 + 7 * i, chooser: chooser("seeded", 100 + i), stopTokens: [2047] },
                  {
                    token: (id) => {
                      tokens[i].push(id);
                      if (i % 2 === 1 && tokens[i].length >= 3) handle.cancel(); // the client left
                      // another sequence of the same step ended from here (a sibling choice failed)
                      if (i === 0 && tokens[i].length === 4) handles[4].cancel();
                    },
                    finished: resolve,
                  },
                );
                handles.push(handle);
              }),
          ),
        );
        for (let i = 0; i < PROMPTS.length; i++) {
          if (i % 2 === 1 || i === 4) expect(results[i].reason).toBe("cancelled");
          else expect(tokens[i]).toEqual(plain.tokens[i]);
        }
        expect(engine.kvCacheBytes).toBe(0);
        expect(engine.activeSequences).toBe(0);
      });

      it.skipIf(kind === "js")("alone = batched with a draft; the prefix cache and a second turn agree too", async () => {
        const draft: DraftOptions = { model: selfDraft, maxTokens: 5, pMin: 0 };
        const engine = new Engine(target.served.model, { parallel: 8, draft });
        const batched = await runAll(engine, "seeded");
        // again on the same engine: prompts now come from the prefix cache (the draft recomputes them)
        const again = await runAll(engine, "seeded");
        expect(again.tokens).toEqual(batched.tokens);
        expect(again.results.some((r) => r.cachedTokens > 0)).toBe(true);
        const alone = new Engine(target.served.model, { parallel: 1, draft });
        const first = await new Promise<number[]>((resolve) => {
          const out: number[] = [];
          alone.submit({ prompt: PROMPTS[0], maxTokens: 20, chooser: chooser("seeded", 100), stopTokens: [2047] }, { token: (id) => out.push(id), finished: () => resolve(out) });
        });
        expect(first).toEqual(batched.tokens[0]);
      });
    });
  }

  it("refuses a draft of another vocabulary, too many draft tokens for a pass, or a shorter context", async () => {
    const target = await openModel("js", 8);
    try {
      const other = { ...RANDOM_DRAFT, vocabSize: 1000 };
      const wrongVocab = new Model(other, randomWeights(other, { seed: 1 }));
      expect(() => new Engine(target.served.model, { draft: { model: wrongVocab, maxTokens: 4 } })).toThrow(/vocabulary of 2048 tokens, found 1000/);
      const draft = new Model(RANDOM_DRAFT, randomWeights(RANDOM_DRAFT, { seed: 1 }), { maxBatchRows: 8 });
      expect(() => new Engine(target.served.model, { draft: { model: draft, maxTokens: 8 } })).toThrow(ServeError);
      const short = { ...RANDOM_DRAFT, seqLen: 64 };
      expect(() => new Engine(target.served.model, { draft: { model: new Model(short, randomWeights(short, { seed: 1 })), maxTokens: 4 } })).toThrow(/context of at least 512/);
    } finally {
      await target.dispose();
    }
  });
});
