/**
 * GGUF metadata values, kept with their on-disk type so that a file read and written again is
 * byte-identical.
 *
 * On disk each key-value pair is `| key: gguf_string | value_type: u32 | value |`, where a
 * gguf_string is `| length: u64 | utf-8 bytes |` and value_type is:
 *
 *   0 u8   1 i8   2 u16   3 i16   4 u32   5 i32   6 f32   7 bool (1 byte, 0 or 1)
 *   8 string   9 array   10 u64   11 i64   12 f64
 *
 * An array is `| item_type: u32 | count: u64 | items |`; items of type array repeat that header
 * for each inner array, so arrays nest.
 *
 * In memory: numbers for the 8/16/32-bit types and f32/f64, bigint for u64/i64 (a u64 does not
 * fit a double), boolean, string (UTF-8 decoded). Numeric arrays are typed arrays (a 150k-entry
 * token score array is one Float32Array, not 150k objects), string arrays are string[], bool
 * arrays boolean[], and nested arrays an array of GgufArray. A string array read from a file is
 * held as its UTF-8 bytes and decoded to string[] on the first access of `value` (a vocabulary
 * of 32,000 JS strings costs ~6 MB that loading a model's weights never needs): see
 * gguf-strings.ts, and `stringArray(key)` of GgufFile / GgufReader for the undecoded form.
 */

export type GgufScalarType = "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "bool" | "string" | "u64" | "i64" | "f64";
export type GgufValueType = GgufScalarType | "array";

/** The value type ids of the GGUF spec. */
export const GGUF_VALUE_TYPE_ID: Readonly<Record<GgufValueType, number>> = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
};

/** Inverse of GGUF_VALUE_TYPE_ID: index by id. */
export const GGUF_VALUE_TYPES: readonly GgufValueType[] = [
  "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
];

export type GgufScalar =
  | { type: "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "f64"; value: number }
  | { type: "u64" | "i64"; value: bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string };

export type GgufArray =
  | { type: "array"; itemType: "u8"; value: Uint8Array }
  | { type: "array"; itemType: "i8"; value: Int8Array }
  | { type: "array"; itemType: "u16"; value: Uint16Array }
  | { type: "array"; itemType: "i16"; value: Int16Array }
  | { type: "array"; itemType: "u32"; value: Uint32Array }
  | { type: "array"; itemType: "i32"; value: Int32Array }
  | { type: "array"; itemType: "f32"; value: Float32Array }
  | { type: "array"; itemType: "f64"; value: Float64Array }
  | { type: "array"; itemType: "u64"; value: BigUint64Array }
  | { type: "array"; itemType: "i64"; value: BigInt64Array }
  | { type: "array"; itemType: "bool"; value: boolean[] }
  | { type: "array"; itemType: "string"; value: string[] }
  | { type: "array"; itemType: "array"; value: GgufArray[] };

export type GgufValue = GgufScalar | GgufArray;

/** The in-memory container for each array item type. */
export interface GgufArrayItems {
  u8: Uint8Array;
  i8: Int8Array;
  u16: Uint16Array;
  i16: Int16Array;
  u32: Uint32Array;
  i32: Int32Array;
  f32: Float32Array;
  f64: Float64Array;
  u64: BigUint64Array;
  i64: BigInt64Array;
  bool: boolean[];
  string: string[];
  array: GgufArray[];
}

/** What `GgufValue["value"]` can be: the plain JS value without its type tag. */
export type GgufPlainValue = GgufValue["value"];

/** Bytes per element of the fixed-size types (string and array have none). */
export const GGUF_FIXED_SIZE: Readonly<Partial<Record<GgufValueType, number>>> = {
  u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, u64: 8, i64: 8, f64: 8,
};

/**
 * Constructors that tag a JS value with its GGUF type:
 * `ggufValue.u32(32)`, `ggufValue.string("gpt2")`, `ggufValue.array("f32", new Float32Array(n))`.
 */
export const ggufValue = {
  u8: (value: number): GgufScalar => ({ type: "u8", value }),
  i8: (value: number): GgufScalar => ({ type: "i8", value }),
  u16: (value: number): GgufScalar => ({ type: "u16", value }),
  i16: (value: number): GgufScalar => ({ type: "i16", value }),
  u32: (value: number): GgufScalar => ({ type: "u32", value }),
  i32: (value: number): GgufScalar => ({ type: "i32", value }),
  f32: (value: number): GgufScalar => ({ type: "f32", value }),
  f64: (value: number): GgufScalar => ({ type: "f64", value }),
  u64: (value: bigint): GgufScalar => ({ type: "u64", value }),
  i64: (value: bigint): GgufScalar => ({ type: "i64", value }),
  bool: (value: boolean): GgufScalar => ({ type: "bool", value }),
  string: (value: string): GgufScalar => ({ type: "string", value }),
  array<K extends keyof GgufArrayItems>(itemType: K, value: GgufArrayItems[K]): GgufArray {
    return { type: "array", itemType, value } as GgufArray;
  },
};
