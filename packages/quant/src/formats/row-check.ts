import { QuantError } from "../errors";

// The boundary checks of the row functions. Rows that are not a whole number of blocks have no
// encoding in these formats (ggml asserts; llama.cpp keeps such tensors in f16/f32).

/** `k` values make whole blocks of `blockSize`. */
export function checkBlocks(format: string, blockSize: number, k: number): void {
  if (!Number.isInteger(k) || k < 0 || k % blockSize !== 0) {
    throw new QuantError(
      "ROW_NOT_BLOCK_MULTIPLE",
      `${format}: expected a row length that is a non-negative multiple of the block size ${blockSize}, found ${k}`,
    );
  }
}

/** `array` holds `count` items (values or bytes) from `offset`. */
export function checkSpan(format: string, what: string, array: { readonly length: number }, offset: number, count: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + count > array.length) {
    throw new QuantError("BAD_LENGTH", `${format}: expected ${count} ${what} from offset ${offset}, found an array of ${array.length}`);
  }
}

/** A row of k values and its blocks: both checked. */
export function checkRow(
  format: string, blockSize: number, blockBytes: number, k: number,
  values: { readonly length: number }, valuesOffset: number, blocks: Uint8Array, blocksOffset: number,
): void {
  checkBlocks(format, blockSize, k);
  checkSpan(format, "values", values, valuesOffset, k);
  checkSpan(format, "block bytes", blocks, blocksOffset, (k / blockSize) * blockBytes);
}
