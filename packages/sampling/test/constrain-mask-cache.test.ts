import { describe, expect, it } from "vitest";
import { compileConstraint, type ConstraintSpec } from "../src/constrain";
import { TokenMasker } from "../src/constrain/mask";
import { Parser } from "../src/constrain/parser";
import { VocabularyTrie } from "../src/constrain/vocabulary";
import { testRandom } from "./helpers/constrain";
import { realVocabulary } from "./helpers/vocab";

/**
 * The mask cache shares entries between positions that no token of at most 16 bytes can tell
 * apart, and leaves longer tokens to a run-time check. Here it must give exactly the masks of a
 * cache keyed by the automaton state itself, with no horizon, on a real vocabulary (whose longest
 * tokens are past the horizon) along random walks.
 */
describe("shared mask-cache entries give the same masks as one entry per state", { timeout: 120_000 }, () => {
  const specs: [string, ConstraintSpec][] = [
    ["counted strings and numbers", { type: "json", schema: { type: "object", properties: { a: { type: "string", minLength: 3, maxLength: 30 }, b: { type: "number", minimum: -2.5, maximum: 1000 }, c: { type: "array", items: { type: "string", maxLength: 5 }, maxItems: 6 } }, required: ["a", "b", "c"] } }],
    ["recursion", { type: "json" }],
    ["pattern and length", { type: "json", schema: { type: "string", pattern: "^[a-z ]+(, [a-z ]+)*$", maxLength: 50 } }],
    ["regex with long repeats", { type: "regex", pattern: "( {4}|\\t)*[A-Za-z ]{0,40}\\n" }],
  ];
  for (const [name, spec] of specs) {
    it(name, async () => {
      const real = await realVocabulary();
      const c = compileConstraint(spec, real.vocab);
      const trie = new VocabularyTrie(real.vocab);
      expect(trie.maxTokenLength).toBeGreaterThan(16);
      const perState = Int32Array.from({ length: c.automaton.nStates }, (_, s) => s);
      const exact = new TokenMasker(c.automaton, new Parser(c.automaton), trie, perState, trie.maxTokenLength);
      const a = c.createMask(), b = c.createMask();
      for (let seed = 1; seed <= 6; seed++) {
        const random = testRandom(seed);
        const state = c.initialState();
        for (let step = 0; step < 60 && !c.isComplete(state); step++) {
          const n = c.mask(state, a);
          expect(exact.fill(state.parser, state.config, b)).toBe(n);
          expect(Array.from(a)).toEqual(Array.from(b));
          const allowed: number[] = [];
          for (let t = 0; t < c.vocabSize; t++) if ((a[t >>> 5] & (1 << (t & 31))) !== 0 && !real.vocab.eos.includes(t)) allowed.push(t);
          if (allowed.length === 0) break;
          c.accept(state, allowed[Math.floor(random() * allowed.length)]);
        }
      }
      expect(c.masker.cachedPositions).toBeLessThan(exact.cachedPositions + 1);
    });
  }
});
