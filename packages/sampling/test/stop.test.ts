import { Rng } from "@zero-llm/tensor";
import { describe, expect, it } from "vitest";
import { SamplingError, StopConditions, StopStrings } from "../src/index";

const utf8 = new TextEncoder();
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/**
 * Streams `pieces` through a StopStrings; returns what was released piece by piece (as text:
 * pieces here never end inside a character, except in the byte-level tests, which join first),
 * all released bytes with the flushed rest decoded at once, and the match.
 */
function stream(stops: string[], pieces: (string | Uint8Array)[]): { released: string[]; all: string; matched: string | null } {
  const s = new StopStrings(stops);
  const released: Uint8Array[] = [];
  for (const p of pieces) {
    released.push(s.push(typeof p === "string" ? utf8.encode(p) : p));
    if (s.matched !== null) break;
  }
  if (s.matched === null) released.push(s.flush());
  const joined = new Uint8Array(released.reduce((n, b) => n + b.length, 0));
  released.reduce((at, b) => (joined.set(b, at), at + b.length), 0);
  return { released: released.slice(0, s.matched === null ? -1 : undefined).map(text), all: text(joined), matched: s.matched };
}

describe("StopStrings", () => {
  it("matches across token boundaries and holds back only what could still become a stop", () => {
    const r = stream(["\n\nUser:"], ["Hello", " there\n", "\nUs", "er", ": hi"]);
    expect(r.released).toEqual(["Hello", " there", "", "", ""]);
    expect(r.matched).toBe("\n\nUser:");
    // the held "\n\nUs" is released the moment it can no longer be the stop
    const s = stream(["\n\nUser:"], ["Hello\n", "\nUsa"]);
    expect(s.released).toEqual(["Hello", "\n\nUsa"]);
    expect(s.matched).toBeNull();
  });

  it("holds only the longest tail that a stop starts with", () => {
    expect(stream(["abc"], ["xxab"]).released).toEqual(["xx"]);
    expect(stream(["abc"], ["xxab", "d"]).released).toEqual(["xx", "abd"]);
    expect(stream(["abc", "bx"], ["zab"]).released).toEqual(["z"]); // "ab" could become "abc"
    expect(stream(["abc"], ["xxa", "a"]).released).toEqual(["xx", "a"]); // "aa": only the last "a" may still start "abc"
  });

  it("the text before the match is released; the stop itself and anything after it are not", () => {
    const r = stream(["END"], ["one two EN", "D three"]);
    expect(r.released).toEqual(["one two ", ""]);
    expect(r.matched).toBe("END");
  });

  it("works on bytes: a character split across tokens, and a stop string made of one", () => {
    const e = utf8.encode("é"); // c3 a9
    const r = stream(["é!"], [new Uint8Array([0x61, e[0]]), new Uint8Array([e[1]]), utf8.encode("!")]);
    expect(r.all).toBe("a");
    expect(r.matched).toBe("é!");
  });

  it("the same result however the text is split into tokens (the stop that ends first wins)", () => {
    const rng = new Rng(12);
    const alphabet = ["a", "b", "c", "\n", "é", "!"];
    for (let t = 0; t < 400; t++) {
      const body = Array.from({ length: 5 + rng.int(30) }, () => alphabet[rng.int(alphabet.length)]).join("");
      const stops = Array.from({ length: 1 + rng.int(3) }, () => Array.from({ length: 1 + rng.int(3) }, () => alphabet[rng.int(alphabet.length)]).join(""));
      // reference: one byte at a time
      const bytes = utf8.encode(body);
      const oneByOne = stream(stops, Array.from(bytes, (b) => new Uint8Array([b])));
      // random token boundaries
      const pieces: Uint8Array[] = [];
      for (let i = 0; i < bytes.length;) {
        const len = 1 + rng.int(6);
        pieces.push(bytes.slice(i, i + len));
        i += len;
      }
      const chunked = stream(stops, pieces);
      expect(chunked.matched).toBe(oneByOne.matched);
      expect(chunked.all).toBe(oneByOne.all);
      // and the reference itself: the text before the earliest-ending occurrence
      let cut = -1, which: string | null = null;
      for (let end = 1; end <= bytes.length && cut < 0; end++) {
        for (const s of stops) {
          const sb = utf8.encode(s);
          if (sb.length <= end && text(bytes.slice(end - sb.length, end)) === s && (which === null || sb.length > utf8.encode(which).length)) {
            cut = end - sb.length;
            which = s;
          }
        }
      }
      expect(oneByOne.matched).toBe(which);
      expect(oneByOne.all).toBe(cut < 0 ? body : text(bytes.slice(0, cut)));
    }
  });

  it("rejects empty stop strings and text after a match", () => {
    expect(() => new StopStrings([""])).toThrow(SamplingError);
    const s = new StopStrings(["x"]);
    s.push(utf8.encode("x"));
    expect(() => s.push(utf8.encode("y"))).toThrow(expect.objectContaining({ code: "SAMPLING_BAD_STATE" }));
  });
});

describe("StopConditions", () => {
  const pieces = ["Hel", "lo", "\n", "\n", "Bye", "\xa0"];
  const bytes = (id: number): Uint8Array => utf8.encode(pieces[id] ?? "");

  it("EOS ends generation and releases the held text; the EOS token is not output", () => {
    const stops = new StopConditions({ eos: [9], stop: ["\n\n"] });
    const out = [0, 1, 2, 9].map((id) => stops.push(id, bytes(id)));
    expect(out).toEqual(["Hel", "lo", "", "\n"]);
    expect(stops.reason).toBe("eos");
    expect(stops.generated).toBe(3);
  });

  it("a stop string ends generation with the text before it", () => {
    const stops = new StopConditions({ stop: ["\n\n"], maxTokens: 10 });
    const out: string[] = [];
    for (const id of [0, 1, 2, 3, 4]) {
      out.push(stops.push(id, bytes(id)));
      if (stops.reason) break;
    }
    expect(out.join("") + stops.finish()).toBe("Hello");
    expect(stops.reason).toBe("stop");
    expect(stops.matched).toBe("\n\n");
  });

  it("maxTokens ends generation after that many tokens, held text included", () => {
    const stops = new StopConditions({ stop: ["\n\n"], maxTokens: 3 });
    const out = [0, 1, 2].map((id) => stops.push(id, bytes(id)));
    expect(out).toEqual(["Hel", "lo", "\n"]);
    expect(stops.reason).toBe("maxTokens");
    expect(() => stops.push(4, bytes(4))).toThrow(/expected no tokens after the stop \(maxTokens\)/);
  });

  it("never streams half a character", () => {
    const e = utf8.encode("€"); // three bytes, split over three tokens
    const stops = new StopConditions({});
    expect([e.slice(0, 1), e.slice(1, 2), e.slice(2)].map((b, i) => stops.push(i, b))).toEqual(["", "", "€"]);
  });
});
