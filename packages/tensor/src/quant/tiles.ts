// q4_0 weights in tiles of four rows: the layout the decode kernel reads fastest, made from a
// GGUF tensor's bytes in place, at load (llama.cpp's CPU backend repacks q4_0 the same way, into
// its block_q4_0x8; this is our own four-row form of the idea).
//
// A q4_0 matrix [n, k] stored row after row is n·nb blocks of 18 bytes (nb = k / 32):
//
//   row o:  | d | qs (16 B) | d | qs | … nb blocks
//
// Tiled, rows 4g…4g+3 (a "row group") keep exactly their 4·nb·18 bytes, reordered as tiles of
// four blocks j…j+3 (c = 4, or the 1–3 blocks left at the end of a row):
//
//   tile (g, j):  | d[4g][j] … d[4g][j+c−1] | d[4g+1][j] … | d[4g+2] … | d[4g+3] … |   4·c f16 = 8c bytes
//                 | qs[4g][j] | qs[4g+1][j] | qs[4g+2][j] | qs[4g+3][j] |              16 B each, block j
//                 | qs[4g][j+1] | … block j+1 … | … up to block j+c−1                     = 64c bytes
//
// So one 32-byte load gives the scales of four blocks of four rows (the float step's operands,
// lane i = block j + i, exactly what the row-by-row kernel gathers with four loads per row), and
// the four rows' codes are one ascending stream, 16-byte aligned where the matrix is. A full
// tile is 288 bytes (4 rows × 4 blocks × 18). Every number is the same as in the row layout: only
// the order of the bytes changes, and the products give the same bits (src/quant/reference.ts).
//
// The layout promises two more things the fast kernel relies on: n is a multiple of 4, and no
// scale is inf or NaN (it converts the halves without the special-value path). packQ4_0Tiles
// refuses anything else; such a matrix stays in rows.
import { TensorError } from "../errors";

/** How a quantized matrix's blocks are ordered in memory: GGUF's row after row, or q4_0 tiles of four rows. */
export type QuantLayout = "rows" | "q4_0x4";

/** Rows per tile. */
export const Q4_0_TILE_ROWS = 4;
const BLOCK_BYTES = 18;
const CODE_BYTES = 16;
const TILE_BLOCKS = 4;

/** Byte offset, in a tiled matrix of nb blocks per row, of block b's f16 scale of row o. */
export function q4_0TileScaleAt(o: number, b: number, nb: number): number {
  const i = b % TILE_BLOCKS, c = Math.min(TILE_BLOCKS, nb - (b - i));
  return tileAt(o, b - i, nb) + 2 * ((o % Q4_0_TILE_ROWS) * c + i);
}

/** Byte offset, in a tiled matrix of nb blocks per row, of block b's 16 code bytes of row o. */
export function q4_0TileCodesAt(o: number, b: number, nb: number): number {
  const i = b % TILE_BLOCKS, c = Math.min(TILE_BLOCKS, nb - (b - i));
  return tileAt(o, b - i, nb) + 8 * c + CODE_BYTES * (Q4_0_TILE_ROWS * i + (o % Q4_0_TILE_ROWS));
}

/** Where the tile of row o's group starting at block j begins: whole row groups, then whole tiles before it. */
function tileAt(o: number, j: number, nb: number): number {
  return (o - (o % Q4_0_TILE_ROWS)) * nb * BLOCK_BYTES + j * Q4_0_TILE_ROWS * BLOCK_BYTES;
}

/** Whether a q4_0 matrix [n, k] in rows can be tiled: n a multiple of 4, every scale finite. */
export function canTileQ4_0(bytes: Uint8Array, n: number, k: number): boolean {
  if (!tileShapeFits(bytes, n, k)) return false;
  for (let at = 0; at < (n * k / 32) * BLOCK_BYTES; at += BLOCK_BYTES) if ((bytes[at + 1] & 0x7c) === 0x7c) return false;
  return true;
}

/**
 * Reorders a q4_0 matrix [n, k] from rows into tiles, in place (one row group of scratch).
 * INVALID_ARGUMENT where canTileQ4_0 says no.
 */
export function packQ4_0Tiles(bytes: Uint8Array, n: number, k: number): void {
  if (!tryPackQ4_0Tiles(bytes, n, k)) {
    throw new TensorError("INVALID_ARGUMENT", `packQ4_0Tiles: expected q4_0 [n, k] with n a multiple of 4, k of 32 and finite scales in ${(n * k / 32) * BLOCK_BYTES} bytes, found n ${n}, k ${k}, ${bytes.length} bytes or a NaN/inf scale`);
  }
}

/**
 * packQ4_0Tiles where canTileQ4_0 says yes (returns true); false with the bytes unchanged where it
 * says no. One pass: each row group's scales are checked as the group is moved, and a NaN or inf
 * scale puts the groups already tiled back in rows. A loader calls this once per matrix instead
 * of scanning the scales and then tiling: a scan over every block of a model is a loop V8
 * compiles while the model loads, and that compiler's memory stays in the process.
 */
export function tryPackQ4_0Tiles(bytes: Uint8Array, n: number, k: number): boolean {
  if (!tileShapeFits(bytes, n, k)) return false;
  const tiled = reorder(bytes, n, k, true);
  if (tiled === n) return true;
  reorder(bytes, tiled, k, false);
  return false;
}

/** The inverse of packQ4_0Tiles, in place: the matrix row after row again, as GGUF stores it. */
export function unpackQ4_0Tiles(bytes: Uint8Array, n: number, k: number): void {
  if (!tileShapeFits(bytes, n, k)) {
    throw new TensorError("INVALID_ARGUMENT", `unpackQ4_0Tiles: expected q4_0 tiles of [n, k] with n a multiple of 4 and k of 32 in ${(n * k / 32) * BLOCK_BYTES} bytes, found n ${n}, k ${k}, ${bytes.length} bytes`);
  }
  reorder(bytes, n, k, false);
}

/** n a multiple of 4, k of 32, and the bytes hold the matrix. */
function tileShapeFits(bytes: Uint8Array, n: number, k: number): boolean {
  return n % Q4_0_TILE_ROWS === 0 && k % 32 === 0 && bytes.length >= (n * k / 32) * BLOCK_BYTES;
}

/**
 * Moves rows [0, n) between rows and tiles, a row group at a time; returns the rows moved. Into
 * tiles it stops before the first group with a NaN or inf scale (f16 exponent bits 0x7c of the
 * high byte all set), leaving that group and the rest in rows.
 */
function reorder(bytes: Uint8Array, n: number, k: number, toTiles: boolean): number {
  const nb = k / 32, rowBytes = nb * BLOCK_BYTES, groupBytes = Q4_0_TILE_ROWS * rowBytes;
  const group = new Uint8Array(groupBytes);
  // Byte loops, not subarray views: a view per block is an object per block (288,000 for a
  // 32,000 × 288 classifier), garbage that grew the young generation and the peak RSS at load.
  for (let base = 0; base < n * rowBytes; base += groupBytes) {
    for (let i = 0; i < groupBytes; i++) group[i] = bytes[base + i];
    if (toTiles) {
      for (let at = 0; at < groupBytes; at += BLOCK_BYTES) if ((group[at + 1] & 0x7c) === 0x7c) return base / rowBytes;
    }
    for (let r = 0; r < Q4_0_TILE_ROWS; r++) {
      if (!toTiles) {
        q4_0TileRow(group, r, nb, bytes, base + r * rowBytes);
        continue;
      }
      for (let b = 0; b < nb; b++) {
        const row = (r * nb + b) * BLOCK_BYTES, scale = q4_0TileScaleAt(r, b, nb), codes = q4_0TileCodesAt(r, b, nb);
        bytes[base + scale] = group[row];
        bytes[base + scale + 1] = group[row + 1];
        for (let i = 0; i < CODE_BYTES; i++) bytes[base + codes + i] = group[row + 2 + i];
      }
    }
  }
  return n;
}

/**
 * Row o of a tiled matrix of nb blocks per row, gathered back into GGUF's order: its nb blocks of
 * 18 bytes (scale, then codes) written to out[outOffset …]. Byte loops: no view per block.
 */
export function q4_0TileRow(tiles: Uint8Array, o: number, nb: number, out: Uint8Array, outOffset: number): void {
  for (let b = 0; b < nb; b++) {
    const at = outOffset + b * BLOCK_BYTES, scale = q4_0TileScaleAt(o, b, nb), codes = q4_0TileCodesAt(o, b, nb);
    out[at] = tiles[scale];
    out[at + 1] = tiles[scale + 1];
    for (let i = 0; i < CODE_BYTES; i++) out[at + 2 + i] = tiles[codes + i];
  }
}

/**
 * Whether a matrix of `type` with `outFeatures` rows can be held in `layout`: "rows" always,
 * "q4_0x4" only for q4_0 in whole groups of Q4_0_TILE_ROWS rows.
 */
export function layoutFits(layout: QuantLayout, type: string, outFeatures: number): boolean {
  return layout === "rows" || (layout === "q4_0x4" && type === "q4_0" && outFeatures % Q4_0_TILE_ROWS === 0);
}
