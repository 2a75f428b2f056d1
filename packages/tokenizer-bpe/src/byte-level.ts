/**
 * GPT-2's byte-to-unicode table: Hugging Face `tokenizer.json` and GGUF `gpt2` vocabularies store
 * each token's bytes as printable characters. Bytes 0x21..0x7E, 0xA1..0xAC and 0xAE..0xFF map to
 * the character with the same code; the other 68 bytes map, in increasing order, to U+0100 + k.
 * So a space (0x20) is "Ġ" (U+0120) and a newline (0x0A) is "Ċ" (U+010A).
 */
const BYTE_TO_CHAR: string[] = new Array<string>(256);
const CHAR_TO_BYTE = new Map<number, number>();

{
  let k = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    const code = printable ? b : 0x100 + k++;
    BYTE_TO_CHAR[b] = String.fromCharCode(code);
    CHAR_TO_BYTE.set(code, b);
  }
}

/** Raw bytes -> GPT-2 byte-level string ("Ġhello"). */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]];
  return s;
}

/** GPT-2 byte-level string -> raw bytes, or undefined if a character is outside the table. */
export function byteLevelToBytes(text: string): Uint8Array | undefined {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const b = CHAR_TO_BYTE.get(text.charCodeAt(i));
    if (b === undefined) return undefined;
    out[i] = b;
  }
  return out;
}
