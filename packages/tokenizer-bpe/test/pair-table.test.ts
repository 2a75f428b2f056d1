import { describe, expect, it } from "vitest";
import { mergeTablesOf } from "../src/bpe";
import { PairTable, TiktokenPairs } from "../src/pair-table";
import { loadEncoding } from "./helpers/encodings";
import { mulberry32 } from "./helpers/fuzz";

/**
 * tiktoken ranks find a pair by hashing the concatenation of its two tokens' bytes (no table per
 * pair), and long pieces use the complete table of pairs built from that hash. Both are held to
 * the definition: (a, b) merges into the token whose bytes are bytes(a) ++ bytes(b), looked up
 * as a string in the tokenizer's own map.
 */
function concatenationId(tok: Awaited<ReturnType<typeof loadEncoding>>, a: number, b: number): number {
  const left = tok.tokenBytes(a);
  const right = tok.tokenBytes(b);
  const both = new Uint8Array(left.length + right.length);
  both.set(left);
  both.set(right, left.length);
  return tok.tokenId(both) ?? -1;
}

/** Ids with bytes of their own (tiktoken's ranks have holes, and special tokens follow them). */
function ordinaryIds(tok: Awaited<ReturnType<typeof loadEncoding>>): number[] {
  const ids: number[] = [];
  mergeTablesOf(tok).tokenBytes.forEach((bytes, id) => {
    if (bytes !== undefined) ids.push(id);
  });
  return ids;
}

describe.each(["cl100k_base", "o200k_base"] as const)("%s: tiktoken pair lookups", (name) => {
  it("the concatenation hash finds exactly the token of the two tokens' bytes (random pairs, and pairs that merge)", async () => {
    const tok = await loadEncoding(name);
    const pairs = mergeTablesOf(tok).pairs;
    expect(pairs).toBeInstanceOf(TiktokenPairs);
    const rand = mulberry32(12);
    const ids = ordinaryIds(tok);
    const pick = (): number => ids[Math.floor(rand() * ids.length)];
    let merging = 0;
    for (let k = 0; k < 20_000; k++) {
      // Half the pairs split a real token (so they merge), half are any two tokens (mostly not).
      let a: number;
      let b: number;
      const t = pick();
      const bytes = tok.tokenBytes(t);
      if (k % 2 === 0 && bytes.length >= 2) {
        const cut = 1 + Math.floor(rand() * (bytes.length - 1));
        const left = tok.tokenId(bytes.subarray(0, cut));
        const right = tok.tokenId(bytes.subarray(cut));
        if (left === undefined || right === undefined) continue;
        [a, b] = [left, right];
      } else {
        [a, b] = [pick(), pick()];
      }
      const expected = concatenationId(tok, a, b);
      const slot = pairs.find(a, b);
      expect({ a, b, merged: slot < 0 ? -1 : pairs.mergedAt(slot), rank: slot < 0 ? -1 : pairs.rankAt(slot) }).toEqual({ a, b, merged: expected, rank: expected });
      if (expected >= 0) merging++;
    }
    expect(merging).toBeGreaterThan(5_000);
  }, 120_000);

  it("the complete table holds every split of every token into two tokens, and nothing else", async () => {
    const tok = await loadEncoding(name);
    const complete = (mergeTablesOf(tok).pairs as TiktokenPairs).complete();
    expect(complete).toBeInstanceOf(PairTable);
    // Every split, enumerated through the tokenizer's own bytes -> id map.
    let splits = 0;
    for (const t of ordinaryIds(tok)) {
      const bytes = tok.tokenBytes(t);
      if (bytes.length < 2 || tok.tokenId(bytes) !== t) continue;
      for (let cut = 1; cut < bytes.length; cut++) {
        const a = tok.tokenId(bytes.subarray(0, cut));
        const b = tok.tokenId(bytes.subarray(cut));
        if (a === undefined || b === undefined) continue;
        splits++;
        const slot = complete.find(a, b);
        if (slot < 0 || complete.mergedAt(slot) !== t || complete.rankAt(slot) !== t) expect({ a, b, slot, merged: slot < 0 ? -1 : complete.mergedAt(slot) }).toEqual({ a, b, slot, merged: t });
      }
    }
    expect(complete.size).toBe(splits); // and nothing else
    expect(splits).toBeGreaterThan(200_000);
  }, 300_000);
});
