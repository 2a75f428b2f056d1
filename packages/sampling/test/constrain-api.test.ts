import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadBpeJson } from "@zero-llm/tokenizer-bpe";
import { describe, expect, it } from "vitest";
import {
  ConstraintError, compileConstraint, isTokenAllowed, maskWords, parseGbnf, tokenVocabulary,
  type ConstraintSpec, type TokenVocabulary,
} from "../src/constrain";
import { applyTokenMask } from "../src/penalties";
import { VocabularyTrie } from "../src/constrain/vocabulary";
import { Constraint } from "../src/constrain/constraint";
import { byteVocabulary, testRandom } from "./helpers/constrain";

const utf8 = new TextEncoder();
/** EOS 0, a control token 1 (no text), then the pieces. */
function vocabOf(pieces: string[]): TokenVocabulary {
  return { tokens: [null, null, ...pieces.map((p) => utf8.encode(p))], eos: [0] };
}
const ids = (vocab: TokenVocabulary, mask: Uint32Array): number[] => vocab.tokens.map((_, i) => i).filter((i) => isTokenAllowed(mask, i));
const errorOf = (f: () => unknown): ConstraintError => {
  try {
    f();
  } catch (e) {
    if (e instanceof ConstraintError) return e;
    throw e;
  }
  throw new Error("no error");
};

describe("Constraint state API", { timeout: 60_000 }, () => {
  const vocab = vocabOf(["yes", "ter", "day", "no", "y", "es", "yesterday"]); // ids 2..8
  const c = compileConstraint({ type: "choice", choices: ["yes", "yesterday", "no"] }, vocab);

  it("masks, completion and EOS", () => {
    const s = c.initialState();
    const mask = c.createMask();
    expect(mask.length).toBe(maskWords(vocab.tokens.length));
    expect(c.mask(s, mask)).toBe(4);
    expect(ids(vocab, mask)).toEqual([2, 5, 6, 8]); // yes, no, y, yesterday; never the control token or EOS
    c.accept(s, 2); // "yes": may end, may go on
    expect(c.canEnd(s)).toBe(true);
    expect(c.isComplete(s)).toBe(false);
    c.mask(s, mask);
    expect(ids(vocab, mask)).toEqual([0, 3]); // EOS, "ter"
    c.accept(s, 3);
    c.accept(s, 4); // "yesterday": nothing else can follow
    expect(c.isComplete(s)).toBe(true);
    c.mask(s, mask);
    expect(ids(vocab, mask)).toEqual([0]);
    c.accept(s, 0);
    expect(c.isComplete(s)).toBe(true);
    expect(c.mask(s, mask)).toBe(0);
    expect(errorOf(() => c.accept(s, 2)).code).toBe("CONSTRAINT_TOKEN_REJECTED");
  });

  it("rejects disallowed tokens, EOS too early, unknown ids, foreign states and short buffers", () => {
    const s = c.initialState();
    expect(errorOf(() => c.accept(s, 4)).message).toContain('"day"');
    expect(errorOf(() => c.accept(s, 0)).message).toContain("EOS");
    expect(errorOf(() => c.accept(s, 1)).code).toBe("CONSTRAINT_TOKEN_REJECTED"); // a control token has no text
    expect(errorOf(() => c.accept(s, 99)).code).toBe("CONSTRAINT_TOKEN_REJECTED");
    expect(errorOf(() => c.mask(s, new Uint32Array(0))).code).toBe("CONSTRAINT_BAD_STATE");
    const other = compileConstraint({ type: "choice", choices: ["no"] }, vocab);
    expect(errorOf(() => other.mask(s, c.createMask())).code).toBe("CONSTRAINT_BAD_STATE");
    expect(s.length).toBe(0); // nothing was accepted
  });

  it("clone, rollback and reset", () => {
    const s = c.initialState();
    c.accept(s, 6); // "y"
    const copy = c.clone(s);
    c.accept(s, 7); // "es"
    expect(c.canEnd(s)).toBe(true);
    expect(c.canEnd(copy)).toBe(false);
    c.accept(s, 3);
    c.rollback(s, 2);
    expect(s.length).toBe(1);
    const a = c.createMask(), b = c.createMask();
    c.mask(s, a);
    c.mask(copy, b);
    expect([...a]).toEqual([...b]);
    expect(errorOf(() => c.rollback(s, 2)).code).toBe("CONSTRAINT_BAD_STATE");
    c.accept(s, 7);
    c.accept(s, 0);
    c.rollback(s, 1); // undoing EOS reopens the output
    expect(c.isComplete(s)).toBe(false);
    expect(c.canEnd(s)).toBe(true);
    c.reset(s);
    expect(s.length).toBe(0);
    c.mask(s, a);
    expect(ids(vocab, a)).toEqual([2, 5, 6, 8]);
  });

  it("allows() agrees with the mask on every token, over random walks", () => {
    const g = compileConstraint({ type: "json", schema: { type: "object", properties: { a: { type: "integer" }, b: { type: "array", items: { type: "string", maxLength: 3 } } } } }, byteVocabulary());
    const mask = g.createMask();
    for (let seed = 1; seed <= 5; seed++) {
      const random = testRandom(seed);
      const s = g.initialState();
      for (let step = 0; step < 40 && !g.isComplete(s); step++) {
        g.mask(s, mask);
        const allowed: number[] = [];
        for (let t = 0; t < 257; t++) {
          expect(g.allows(s, t), `token ${t}`).toBe(isTokenAllowed(mask, t));
          if (isTokenAllowed(mask, t) && t !== 0) allowed.push(t);
        }
        if (allowed.length === 0) break;
        g.accept(s, allowed[Math.floor(random() * allowed.length)]);
      }
    }
  });

  it("right recursion keeps a flat stack (tail calls)", () => {
    const vocab = byteVocabulary();
    const g = new Constraint(parseGbnf(`root ::= item\nitem ::= [a-z] item | "."`), vocab);
    const s = g.initialState();
    for (let i = 0; i < 2000; i++) g.accept(s, 0x61 + (i % 26) + 1);
    g.accept(s, 0x2e + 1);
    expect(g.isComplete(s)).toBe(true);
    expect(g.stats(s).stacks).toBeLessThan(20);
  });

  it("applyTokenMask sets disallowed logits to -Infinity and leaves the rest", () => {
    const logits = Float32Array.from({ length: 70 }, (_, i) => i);
    const mask = new Uint32Array(3);
    for (const t of [0, 31, 32, 69]) mask[t >>> 5] |= 1 << (t & 31);
    applyTokenMask(logits, mask);
    expect([...logits].map((v, i) => (v === -Infinity ? -1 : i)).filter((i) => i >= 0)).toEqual([0, 31, 32, 69]);
  });

  it("typed errors for bad specs and vocabularies", () => {
    expect(errorOf(() => compileConstraint({ type: "choice", choices: [] }, vocab)).code).toBe("CONSTRAINT_UNSATISFIABLE");
    expect(errorOf(() => compileConstraint({ type: "xml" } as unknown as ConstraintSpec, vocab)).code).toBe("CONSTRAINT_UNSUPPORTED");
    expect(errorOf(() => compileConstraint({ type: "choice", choices: ["a"] }, { tokens: [], eos: [] })).code).toBe("CONSTRAINT_BAD_VOCABULARY");
    expect(errorOf(() => compileConstraint({ type: "choice", choices: ["a"] }, { tokens: [null], eos: [3] })).code).toBe("CONSTRAINT_BAD_VOCABULARY");
    expect(errorOf(() => compileConstraint({ type: "gbnf", grammar: `root ::= "a"{2000000}` }, vocab)).code).toBe("CONSTRAINT_GRAMMAR_SYNTAX");
    expect(errorOf(() => compileConstraint({ type: "regex", pattern: "[a-z]{1,90000}[0-9]{1,90000}" }, vocab, { limits: { maxNfaStates: 100_000 } })).code).toBe("CONSTRAINT_TOO_LARGE");
    expect(errorOf(() => compileConstraint({ type: "choice", choices: ["a"] }, vocab, { limits: { maxDfaStates: 0 } })).code).toBe("CONSTRAINT_BAD_OPTION");
    expect(errorOf(() => compileConstraint({ type: "choice", choices: ["a"] }, vocab, { maxSharedStacks: -1 })).code).toBe("CONSTRAINT_BAD_OPTION");
  });
});

describe("vocabularies", { timeout: 60_000 }, () => {
  it("tokenVocabulary: special tokens never appear in text, EOS from the tokenizer", () => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const tok = loadBpeJson(readFileSync(path.resolve(here, "../../../models/default/tokenizer.bpe.json"), "utf8"));
    const vocab = tokenVocabulary(tok);
    const eot = tok.specialTokens.get("<|endoftext|>");
    expect(eot).toBeDefined();
    expect(vocab.tokens[eot ?? 0]).toBeNull();
    expect(vocab.eos).toEqual(tok.eosId === undefined ? [] : [tok.eosId]); // the tokenizer's own EOS, if it names one
    expect(tokenVocabulary(tok, { eos: [eot ?? 0] }).eos).toEqual([eot]);
    expect(vocab.tokens.filter((t) => t !== null).length).toBe(tok.vocabSize - tok.specialTokens.size);
    expect(tokenVocabulary(tok, { eos: [5], exclude: [7] }).tokens[7]).toBeNull();
  });

  it("the trie is in preorder, each subtree's tokens are exactly those with its prefix", () => {
    const random = testRandom(3);
    const tokens: (Uint8Array | null)[] = [];
    for (let i = 0; i < 400; i++) tokens.push(random() < 0.05 ? null : Uint8Array.from({ length: 1 + Math.floor(random() * 5) }, () => 97 + Math.floor(random() * 3)));
    const trie = new VocabularyTrie({ tokens, eos: [0] });
    const prefixAt: string[] = [""];
    const path: number[] = [];
    for (let i = 1; i < trie.nodeCount; i++) {
      path.length = trie.depth[i] - 1;
      path.push(trie.byte[i]);
      prefixAt.push(String.fromCharCode(...path));
    }
    const textOf = (t: number): string => String.fromCharCode(...(tokens[t] ?? []));
    for (let i = 0; i < trie.nodeCount; i++) {
      const inSubtree = new Set([...trie.tokenIds.slice(trie.tokenStart[i], trie.tokenStart[trie.end[i]])]);
      const expected = new Set(tokens.map((_, t) => t).filter((t) => t !== 0 && tokens[t] !== null && textOf(t).startsWith(prefixAt[i])));
      expect(inSubtree).toEqual(expected);
      const here = [...trie.tokenIds.slice(trie.tokenStart[i], trie.tokenStart[i + 1])];
      for (const t of here) expect(textOf(t)).toBe(prefixAt[i]);
    }
  });
});

describe("parser tables stay bounded", { timeout: 60_000 }, () => {
  it("outputs share one table until it holds maxSharedStacks stacks; clones share theirs", () => {
    const c = compileConstraint({ type: "json" }, byteVocabulary(), { maxSharedStacks: 20 });
    const a = c.initialState();
    for (const ch of '[[[{"k": [1, 2]}]]]') c.accept(a, ch.charCodeAt(0) + 1);
    expect(c.isComplete(a)).toBe(true);
    const used = c.stats(a).stacks;
    expect(used).toBeGreaterThan(20);
    const copy = c.clone(a);
    expect(c.stats(copy).stacks).toBe(used);
    const b = c.initialState(); // the shared table is past its limit: a fresh one
    expect(c.stats(b).stacks).toBeLessThan(used);
    const d = c.initialState(); // and that one is shared
    c.accept(d, 0x5b + 1);
    expect(c.stats(b).stacks).toBe(c.stats(d).stacks);
  });
});
