import { decodeUtf8 } from "./byte-reader";
import type { GgufArray } from "./gguf-values";

/**
 * A GGUF string array held as its bytes: one buffer of the items' UTF-8 bytes end to end and
 * count + 1 offsets into it, item i being bytes[offsets[i], offsets[i + 1]).
 *
 *   on disk:   | len₀: u64 | "▁the" | len₁: u64 | "<s>" | ...        (8 + n bytes per item)
 *   in memory: bytes   = | "▁the" | "<s>" | ...                        (n bytes per item)
 *              offsets = | 0 | 6 | 9 | ...                              (4 bytes per item)
 *
 * A tokenizer's vocabulary is such an array (tokenizer.ggml.tokens: 32,000 items in Llama 2,
 * 150k in Qwen). Decoded, each item is a JS string, ~30–40 bytes of V8 heap however short, and
 * the decoding leaves garbage that grows the young generation: the 32,000 tokens of the
 * stories15M GGUF cost ~6 MB of resident memory that way, for 0.4 MB of bytes. A model's
 * weights never need them, so the reader keeps this form and decodes on the first access of
 * `value` (see `lazyStringArray`); a tokenizer can read items one at a time with `get(i)`.
 */
export class GgufStringArray {
  private decoded: string[] | undefined;

  constructor(
    /** The items' UTF-8 bytes, end to end. */
    readonly bytes: Uint8Array,
    /** count + 1 offsets into `bytes`; item i is bytes[offsets[i], offsets[i + 1]). */
    readonly offsets: Uint32Array,
  ) {}

  get length(): number {
    return this.offsets.length - 1;
  }

  /** Item i's UTF-8 bytes (a view, no copy). */
  bytesOf(i: number): Uint8Array {
    return this.bytes.subarray(this.offsets[i], this.offsets[i + 1]);
  }

  /** Item i decoded (invalid UTF-8 becomes U+FFFD, as the whole-array decoding does). */
  get(i: number): string {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`expected an index in 0..${this.length - 1}, found ${i}`);
    return this.decoded?.[i] ?? decodeUtf8(this.bytesOf(i));
  }

  /** Whether `toArray()` has run (the structural test of lazy metadata reads it). */
  get materialized(): boolean {
    return this.decoded !== undefined;
  }

  /** Every item decoded, once: later calls return the same array. */
  toArray(): string[] {
    if (this.decoded === undefined) {
      const items = new Array<string>(this.length);
      for (let i = 0; i < items.length; i++) items[i] = decodeUtf8(this.bytesOf(i));
      this.decoded = items;
    }
    return this.decoded;
  }
}

/**
 * A metadata entry `{ type: "array", itemType: "string", value }` whose `value` decodes
 * `strings` on first access (an own enumerable getter, so spreading, JSON and deep equality see
 * the strings as before). `strings` is non-enumerable: the entry compares equal to a plain one.
 */
export function lazyStringArray(strings: GgufStringArray): GgufArray {
  const entry = { type: "array", itemType: "string" } as { type: "array"; itemType: "string"; value: string[] };
  Object.defineProperty(entry, "value", { enumerable: true, get: () => strings.toArray() });
  Object.defineProperty(entry, "strings", { enumerable: false, value: strings });
  return entry;
}

/** The compact form behind a string-array entry read from a file, or undefined for any other value. */
export function ggufStringArrayOf(entry: unknown): GgufStringArray | undefined {
  if (typeof entry !== "object" || entry === null) return undefined;
  const strings = (entry as { strings?: unknown }).strings;
  return strings instanceof GgufStringArray ? strings : undefined;
}
