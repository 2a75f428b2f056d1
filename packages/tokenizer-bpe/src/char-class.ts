/**
 * Unicode classes the split patterns test, one bit each, per code point. ASCII is a constant
 * table; other BMP code points are classified on first sight with one RegExp test per class and
 * remembered in a 64K table; astral code points go through a small Map.
 */
export const LETTER = 1; //      \p{L}
export const NUMBER = 2; //      \p{N}
export const SPACE = 4; //       \p{White_Space} (Rust's \s)
export const UPPERISH = 8; //    [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]  (o200k)
export const LOWERISH = 16; //   [\p{Ll}\p{Lm}\p{Lo}\p{M}]        (o200k)
export const PUNCTUATION = 32; // \p{P}                          (falcon, deepseek, BERT)
export const SYMBOL = 64; //     \p{S}
const KNOWN = 128;

const IS_L = /^\p{L}$/u;
const IS_N = /^\p{N}$/u;
const IS_WS = /^\p{White_Space}$/u;
const IS_UP = /^[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]$/u;
const IS_LO = /^[\p{Ll}\p{Lm}\p{Lo}\p{M}]$/u;
const IS_P = /^\p{P}$/u;
const IS_S = /^\p{S}$/u;

function classify(cp: number): number {
  // Lone surrogates are category Cs: none of the classes.
  if (cp >= 0xd800 && cp <= 0xdfff) return KNOWN;
  const ch = String.fromCodePoint(cp);
  let bits = KNOWN;
  if (IS_L.test(ch)) bits |= LETTER;
  if (IS_N.test(ch)) bits |= NUMBER;
  if (IS_WS.test(ch)) bits |= SPACE;
  if (IS_UP.test(ch)) bits |= UPPERISH;
  if (IS_LO.test(ch)) bits |= LOWERISH;
  if (IS_P.test(ch)) bits |= PUNCTUATION;
  if (IS_S.test(ch)) bits |= SYMBOL;
  return bits;
}

const bmp = new Uint8Array(0x10000);
for (let c = 0; c < 0x80; c++) bmp[c] = classify(c);
const astral = new Map<number, number>();

/** Class bits of the code point `cp`. */
export function classOf(cp: number): number {
  if (cp < 0x10000) {
    let bits = bmp[cp];
    if (bits === 0) bmp[cp] = bits = classify(cp);
    return bits;
  }
  let bits = astral.get(cp);
  if (bits === undefined) {
    bits = classify(cp);
    astral.set(cp, bits);
  }
  return bits;
}
