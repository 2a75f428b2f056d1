/**
 * Seeded generators of awkward text: random code points from every plane, emoji with joiners
 * and skin tones, whitespace runs of every kind, digit runs, mixed scripts with combining marks,
 * contractions in odd cases, and (optionally) special tokens in mid-text.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WHITESPACE = [" ", " ", " ", "\t", "\n", "\n", "\r", "\r\n", "\u000b", "\u000c", "\u00a0", "\u1680", "\u2000", "\u2009", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\u0085", "\ufeff", "\u180e", "\u200b"];
const WORDS = ["the", "The", "THE", "don't", "DON'T", "it's", "It'S", "we're", "WE'RE", "I'll", "I'LL", "you've", "he'd", "'s", "'S", "'ſ", "ſt", "'ll", "'Ll", "'re", "'vE", "hello", "naïve", "Straße", "café", "ÉCOLE", "ǅemal", "ʰa", "x\u0301y", "\u0301\u0301"];
const SCRIPTS = [
  [0x41, 0x5a], [0x61, 0x7a], [0x30, 0x39], [0x21, 0x2f], [0x3a, 0x40], [0xc0, 0x24f], [0x370, 0x3ff], [0x400, 0x4ff],
  [0x590, 0x5ff], [0x600, 0x6ff], [0x900, 0x97f], [0xe00, 0xe7f], [0x300, 0x36f], [0x3040, 0x30ff], [0x4e00, 0x4fff],
  [0xac00, 0xad00], [0x2000, 0x206f], [0x2150, 0x218f], [0x2460, 0x24ff], [0xff00, 0xffef], [0x660, 0x669], [0x1d400, 0x1d7ff],
  [0x1f300, 0x1f6ff], [0x1f900, 0x1f9ff], [0x10000, 0x1007f], [0x20000, 0x2000f],
];
const EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇫🇷", "🧑🏿‍🚀", "1️⃣", "©", "™"];

export interface FuzzOptions {
  /** Include lone surrogates (the output is then not valid Unicode). */
  loneSurrogates?: boolean;
  /** Whitespace characters to leave out. */
  excludeWhitespace?: string[];
  specials?: string[];
}

export function randomText(rand: () => number, length: number, options: FuzzOptions = {}): string {
  const ws = WHITESPACE.filter((w) => !(options.excludeWhitespace ?? []).includes(w));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  let s = "";
  while (s.length < length) {
    const r = rand();
    if (r < 0.2) s += pick(WORDS);
    else if (r < 0.35) {
      const n = 1 + Math.floor(rand() * 5);
      for (let k = 0; k < n; k++) s += pick(ws);
    } else if (r < 0.45) {
      const n = 1 + Math.floor(rand() * 9);
      for (let k = 0; k < n; k++) s += String(Math.floor(rand() * 10));
    } else if (r < 0.52) s += pick(EMOJI);
    else if (r < 0.55 && options.specials !== undefined && options.specials.length > 0) s += pick(options.specials);
    else if (r < 0.57 && options.loneSurrogates === true) s += String.fromCharCode(0xd800 + Math.floor(rand() * 0x800));
    else if (r < 0.62) s += String.fromCodePoint(Math.floor(rand() * 0x2fff) + 0x80);
    else {
      const [lo, hi] = pick(SCRIPTS);
      const n = 1 + Math.floor(rand() * 6);
      for (let k = 0; k < n; k++) s += String.fromCodePoint(lo + Math.floor(rand() * (hi - lo + 1)));
      if (rand() < 0.3) s += pick([" ", "'", "'s", "/", "\n"]);
    }
  }
  return s.replace(/[\ud800-\udfff]/g, (c, at: number, str: string) => {
    if (options.loneSurrogates === true) return c;
    // Keep only well-formed pairs.
    const code = c.charCodeAt(0);
    if (code <= 0xdbff) { const d = str.charCodeAt(at + 1); return d >= 0xdc00 && d <= 0xdfff ? c : ""; }
    const p = str.charCodeAt(at - 1);
    return p >= 0xd800 && p <= 0xdbff ? c : "";
  });
}
