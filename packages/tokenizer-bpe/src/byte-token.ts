/**
 * Byte tokens: the pieces "<0xHH>" a SentencePiece vocabulary holds for each byte (its byte
 * fallback), recognised from a piece's bytes without making a string.
 */

/**
 * The byte the piece in `bytes[from, to)` stands for when it is "<0xHH>", else -1. Hex digits in
 * either case, unless `upperCaseOnly`: llama2.c's tokenizer.bin writes its byte tokens in upper
 * case and gives no token types, so there a piece "<0xab>" is text, not a byte.
 */
export function byteTokenValue(bytes: Uint8Array, from: number, to: number, upperCaseOnly = false): number {
  if (to - from !== 6) return -1;
  if (bytes[from] !== 0x3c || bytes[from + 1] !== 0x30 || bytes[from + 2] !== 0x78 || bytes[from + 5] !== 0x3e) return -1; // "<0x" … ">"
  const high = hexDigit(bytes[from + 3], upperCaseOnly);
  const low = hexDigit(bytes[from + 4], upperCaseOnly);
  return high < 0 || low < 0 ? -1 : (high << 4) | low;
}

/** The value of the ASCII hex digit `c` (upper case only, or either), or -1. */
function hexDigit(c: number, upperCaseOnly: boolean): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const letter = upperCaseOnly ? c : c | 0x20; // | 0x20 folds 'A'–'F' onto 'a'–'f'
  const base = upperCaseOnly ? 0x41 : 0x61;
  return letter >= base && letter <= base + 5 ? letter - base + 10 : -1;
}
