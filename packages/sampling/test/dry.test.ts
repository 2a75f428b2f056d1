// DRY against hand-computed penalties and llama.cpp's rules for sequence breakers.
import { describe, expect, it } from "vitest";
import { DRY_DEFAULT_BREAKERS, SamplingError, dry, dryBreakersFromStrings, type DryVocabulary } from "../src/index";

/** The logit change DRY makes to each token of a zero row of `vocab` tokens. */
function penaltiesAfter(history: number[], options: Parameters<typeof dry>[0], vocab = 10): number[] {
  const row = new Float32Array(vocab);
  dry(options)(row, history);
  return Array.from(row, (v) => (v === 0 ? 0 : -v));
}

describe("DRY", () => {
  it("penalises the token that would extend a repetition: multiplier · base^(n − allowed)", () => {
    // [1 2] was followed by 3 before: emitting 3 repeats [1 2 3]; n = 2 = allowed → 0.8 · 1.75^0
    expect(penaltiesAfter([5, 1, 2, 3, 1, 2], { multiplier: 0.8 })[3]).toBeCloseTo(0.8, 6);
    // [1 2 3] was followed by 4: n = 3 → 0.8 · 1.75
    const p = penaltiesAfter([1, 2, 3, 4, 1, 2, 3], { multiplier: 0.8 });
    expect(p[4]).toBeCloseTo(1.4, 6);
    expect(p.filter((v) => v !== 0)).toHaveLength(1);
    // each token takes its longest repetition: [2 3] is followed by 4 (n = 3) and by 9 (n = 2)
    const q = penaltiesAfter([2, 3, 9, 1, 2, 3, 4, 1, 2, 3], { multiplier: 1, base: 2 });
    expect(q[4]).toBeCloseTo(2, 6);
    expect(q[9]).toBeCloseTo(1, 6);
  });

  it("repetitions shorter than allowedLength are free; the window limits what is scanned", () => {
    expect(penaltiesAfter([5, 1, 2, 3, 1, 2], { multiplier: 0.8, allowedLength: 3 })[3]).toBe(0);
    expect(penaltiesAfter([1, 2, 3, 1, 2], { multiplier: 0.8 })[3]).toBeCloseTo(0.8, 6);
    expect(penaltiesAfter([1, 2, 3, 1, 2], { multiplier: 0.8, window: 3 })[3]).toBe(0); // [3 1 2] has no earlier [1 2]
  });

  it("sequence breakers: only the text after the newest complete breaker counts", () => {
    const breakers = [[7, 8]]; // a two-token breaker
    // newest breaker [7 8] is followed by [1 2]: the match is limited to 2 tokens
    expect(penaltiesAfter([1, 2, 3, 7, 8, 1, 2], { multiplier: 0.8, base: 2, breakers })[3]).toBeCloseTo(0.8, 6);
    // here the limit is 3 tokens ([1 2 3] after the breaker): n = 3 → 0.8 · 2
    expect(penaltiesAfter([1, 2, 3, 4, 7, 8, 1, 2, 3], { multiplier: 0.8, base: 2, breakers })[4]).toBeCloseTo(1.6, 6);
    // an incomplete breaker (7 without 8 after it) limits nothing
    expect(penaltiesAfter([1, 2, 3, 4, 7, 1, 2, 3], { multiplier: 0.8, base: 2, breakers })[4]).toBeCloseTo(1.6, 6);
    // a breaker with fewer than allowedLength tokens after it turns DRY off for this step
    expect(penaltiesAfter([1, 2, 3, 1, 2, 7, 8, 1], { multiplier: 0.8, breakers }).every((v) => v === 0)).toBe(true);
  });

  it("a single-token breaker is never penalised itself", () => {
    expect(penaltiesAfter([1, 2, 4, 1, 2], { multiplier: 0.8, breakers: [[4]] })[4]).toBe(0);
    expect(penaltiesAfter([1, 2, 4, 1, 2], { multiplier: 0.8 })[4]).toBeCloseTo(0.8, 6);
  });

  it("the exponent is capped where base^exponent would overflow a float: trunc(88.7228391 / ln base)", () => {
    // 100 equal tokens: emitting another extends a 99-token repetition; 3^(99 − 2) would be 1.9e46,
    // the cap is trunc(88.7228391 / ln 3) = 80
    const row = new Float32Array(2);
    dry({ multiplier: 1e-30, base: 3 })(row, new Array<number>(100).fill(0));
    expect(row[0] / -(1e-30 * 3 ** 80)).toBeCloseTo(1, 6);
  });

  it("rejects breakers that are empty or name tokens outside the vocabulary", () => {
    expect(() => dry({ multiplier: 1, breakers: [[]] })).toThrow(SamplingError);
    expect(() => dry({ multiplier: 1, breakers: [[12]] })(new Float32Array(10), [1, 2, 3])).toThrow(/dryBreakers: expected token ids in \[0, 10\), found 12/);
  });
});

describe("dryBreakersFromStrings (llama.cpp's rule on token bytes)", () => {
  const pieces = ["a", ":", "\n", "b:", ":\n", "x:\nz", "c", "é"];
  const utf8 = new TextEncoder();
  const vocab: DryVocabulary = {
    size: pieces.length + 1,
    // token 8 is "x" and the first byte of "é": a byte-level token that splits a character
    tokenBytes: (id) => (id === 8 ? new Uint8Array([0x78, 0xc3]) : utf8.encode(pieces[id])),
    // greedy longest-match encoder over the toy vocabulary
    encode: (text) => {
      const ids: number[] = [];
      for (let i = 0; i < text.length;) {
        let best = -1;
        pieces.forEach((p, id) => { if (text.startsWith(p, i) && (best < 0 || p.length > pieces[best].length)) best = id; });
        if (best < 0) throw new Error(`no token for ${text.slice(i)}`);
        ids.push(best);
        i += pieces[best].length;
      }
      return ids;
    },
  };

  it("a token containing the string is a breaker alone; a token ending with its start is a head, the rest follows as tokens", () => {
    expect(dryBreakersFromStrings([":\n"], vocab)).toEqual([
      [1, 2], // ":" then the tokens of "\n"
      [3, 2], // "b:" then "\n"
      [4], // ":\n" contains it
      [5], // "x:\nz" contains it
    ]);
  });

  it("llama.cpp's default breakers, and the 40-byte limit", () => {
    expect(DRY_DEFAULT_BREAKERS).toEqual(["\n", ":", "\"", "*"]);
    expect(dryBreakersFromStrings(["\n"], vocab)).toEqual([[2], [4], [5]]);
    expect(() => dryBreakersFromStrings(["x".repeat(41)], vocab)).toThrow(/expected 1 to 40 UTF-8 bytes, found 41/);
    expect(() => dryBreakersFromStrings([""], vocab)).toThrow(SamplingError);
  });

  it("works on bytes: a rest that splits a UTF-8 character has no token sequence and is left out", () => {
    // "aé" overlaps token "a" by one byte; its rest "é" is whole and is token 7
    expect(dryBreakersFromStrings(["aé"], vocab)).toEqual([[0, 7]]);
    // token 8 ends with the first byte of "é": a head by bytes, but the rest (byte 0xA9) is no text
    expect(dryBreakersFromStrings(["é"], vocab)).toEqual([[7]]);
  });
});
