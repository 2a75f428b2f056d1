// GGML_TYPES pinned against ggml's own definitions: every id of `enum ggml_type` (ggml.h) with
// the block size and the bytes per block its type traits give (ggml.c: blck_size, and type_size
// = sizeof of the block struct in ggml-common.h). The sizes are spelled here as the structs'
// field sums, so a wrong entry in the table fails with the struct it contradicts.
import { describe, expect, it } from "vitest";
import { GGML_TYPES, GgmlType, ggmlTensorBytes, ggmlTypeInfo, requireGgmlType } from "../src/io/index";

const QK_K = 256;
const half = 2; // ggml_half
const K_SCALE_SIZE = 12;

// [id, name, elements per block, bytes per block as the struct's fields add up]
const ggml: Array<[number, string, number, number]> = [
  [0, "F32", 1, 4],
  [1, "F16", 1, half],
  [2, "Q4_0", 32, half + 32 / 2], //                      d, qs[QK4_0/2]
  [3, "Q4_1", 32, 2 * half + 32 / 2], //                  d, m, qs[QK4_1/2]
  [6, "Q5_0", 32, half + 4 + 32 / 2], //                  d, qh[4], qs[QK5_0/2]
  [7, "Q5_1", 32, 2 * half + 4 + 32 / 2], //              d, m, qh[4], qs[QK5_1/2]
  [8, "Q8_0", 32, half + 32], //                          d, qs[QK8_0]
  [9, "Q8_1", 32, 2 * half + 32], //                      d, s, qs[QK8_1]          = 36
  [10, "Q2_K", QK_K, QK_K / 16 + QK_K / 4 + 2 * half], // scales, qs, d, dmin
  [11, "Q3_K", QK_K, QK_K / 8 + QK_K / 4 + 12 + half], // hmask, qs, scales, d
  [12, "Q4_K", QK_K, 2 * half + K_SCALE_SIZE + QK_K / 2], // d, dmin, scales, qs
  [13, "Q5_K", QK_K, 2 * half + K_SCALE_SIZE + QK_K / 8 + QK_K / 2], // d, dmin, scales, qh, qs
  [14, "Q6_K", QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + half], // ql, qh, scales, d
  [15, "Q8_K", QK_K, 4 + QK_K + (QK_K / 16) * 2], //      d (f32), qs, bsums (i16)
  [16, "IQ2_XXS", QK_K, half + (QK_K / 8) * 2], //        d, qs (u16)
  [17, "IQ2_XS", QK_K, half + (QK_K / 8) * 2 + QK_K / 32], // d, qs (u16), scales
  [18, "IQ3_XXS", QK_K, half + (3 * QK_K) / 8], //        d, qs[3·QK_K/8]
  [19, "IQ1_S", QK_K, half + QK_K / 8 + (QK_K / 32) * 2], // d, qs, qh (u16)
  [20, "IQ4_NL", 32, half + 32 / 2], //                   d, qs[QK4_NL/2]
  [21, "IQ3_S", QK_K, half + QK_K / 4 + QK_K / 32 + QK_K / 8 + QK_K / 64], // d, qs, qh, signs, scales
  [22, "IQ2_S", QK_K, half + QK_K / 4 + QK_K / 32 + QK_K / 32], // d, qs, qh, scales
  [23, "IQ4_XS", QK_K, half + 2 + QK_K / 64 + QK_K / 2], // d, scales_h (u16), scales_l, qs
  [24, "I8", 1, 1],
  [25, "I16", 1, 2],
  [26, "I32", 1, 4],
  [27, "I64", 1, 8],
  [28, "F64", 1, 8],
  [29, "IQ1_M", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32], // qs, qh, scales (no d: it lives in the scales)
  [30, "BF16", 1, 2],
  // 31–33 and 36–38: repacked Q4_0 / IQ4_NL, gone from ggml's files but sized as their source block
  [31, "Q4_0_4_4", 32, half + 32 / 2],
  [32, "Q4_0_4_8", 32, half + 32 / 2],
  [33, "Q4_0_8_8", 32, half + 32 / 2],
  [34, "TQ1_0", QK_K, (QK_K - (4 * QK_K) / 64) / 5 + QK_K / 64 + half], // qs (base-3), qh, d
  [35, "TQ2_0", QK_K, QK_K / 4 + half], //                qs (2-bit), d
  [36, "IQ4_NL_4_4", 32, half + 32 / 2],
  [37, "IQ4_NL_4_8", 32, half + 32 / 2],
  [38, "IQ4_NL_8_8", 32, half + 32 / 2],
  [39, "MXFP4", 32, 1 + 32 / 2], //                       e (E8M0), qs
  [40, "NVFP4", 64, 64 / 16 + 64 / 2], //                 d[QK_NVFP4/QK_NVFP4_SUB] (UE4M3), qs
  [41, "Q1_0", 128, half + 128 / 8], //                   d, qs[QK1_0/8]
  [42, "Q2_0", 64, half + 64 / 4], //                     d, qs[QK2_0/4]
];

describe("GGML_TYPES", () => {
  it("lists exactly ggml's type ids, in order, each with ggml's block size and block bytes", () => {
    expect(GGML_TYPES.map((t) => [t.id, t.name, t.blockSize, t.bytesPerBlock])).toEqual(ggml);
  });

  it("flags quantized types (blocks of more than one element) and only the removed repacks as removed", () => {
    for (const t of GGML_TYPES) {
      expect(t.quantized, t.name).toBe(t.blockSize > 1);
      expect(t.removed, t.name).toBe([31, 32, 33, 36, 37, 38].includes(t.id));
    }
  });

  it("has no ids 4 and 5 (Q4_2, Q4_3: removed before GGUF) and nothing past the table", () => {
    for (const id of [4, 5, 43, 99]) expect(ggmlTypeInfo(id), String(id)).toBeUndefined();
    expect(() => requireGgmlType(4)).toThrow(expect.objectContaining({ code: "GGUF_UNKNOWN_GGML_TYPE" }));
  });

  it("names the same ids in GgmlType, and finds every type by id and by name", () => {
    for (const [name, id] of Object.entries(GgmlType)) expect(ggmlTypeInfo(id)?.name, name).toBe(name);
    for (const [id, name] of ggml) expect(requireGgmlType(name)).toBe(requireGgmlType(id));
  });

  it("sizes tensors as ggml_nbytes does: (ne[0] / block) · bytes · ne[1] · …", () => {
    expect(ggmlTensorBytes(requireGgmlType("Q8_1"), [64, 3])).toBe(2 * 36 * 3);
    expect(ggmlTensorBytes(requireGgmlType("Q6_K"), [512, 2, 2])).toBe(2 * 210 * 4);
    expect(() => ggmlTensorBytes(requireGgmlType("NVFP4"), [96])).toThrow(expect.objectContaining({ code: "GGUF_BAD_TENSOR_INFO" }));
  });
});
