// ggml type ids of the weight types the quantized kernels read (src/quant/types.ts draws the blocks).
export const F16 = 1;
export const Q4_0 = 2;
export const Q4_1 = 3;
export const Q8_0 = 8;
export const Q4_K = 12;
// Not a ggml type: q4_0 weights reordered into tiles of four rows (src/quant/tiles.ts draws them).
export const Q4_0_TILES = 0x82;
