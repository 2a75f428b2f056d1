// Rotary position embedding in place on x [seq, nHeads, headDim]. The angle of pair i at
// position p is p·theta^(−2i/headDim); its cosine and sine come from a table the host fills once
// per (theta, headDim) (src/backend/wasm-rope.ts), laid out [position, pair, (cos, sin)] as f32,
// so a decode step's rope is a few multiplies per pair and no transcendental calls.

/** interleaved: pairs (x[2i], x[2i+1]) as llama2.c / GGUF; otherwise (x[i], x[i + headDim/2]) as HF. */
export function rope(x: usize, seq: i32, nHeads: i32, headDim: i32, pos0: i32, table: usize, interleaved: bool): void {
  const half = headDim >> 1;
  const rowBytes = <usize>nHeads * headDim * 4;
  for (let s = 0; s < seq; s++) {
    const row = x + <usize>s * rowBytes;
    const angles = table + <usize>(pos0 + s) * half * 8;
    for (let i = 0; i < half; i++) {
      const cos = load<f32>(angles + (<usize>i << 3)), sin = load<f32>(angles + (<usize>i << 3), 4);
      const o0: usize = interleaved ? <usize>(2 * i) << 2 : <usize>i << 2;
      const o1: usize = interleaved ? <usize>(2 * i + 1) << 2 : <usize>(i + half) << 2;
      for (let h = 0; h < nHeads; h++) {
        const base = row + <usize>h * headDim * 4;
        const x0 = load<f32>(base + o0), x1 = load<f32>(base + o1);
        store<f32>(base + o0, x0 * cos - x1 * sin);
        store<f32>(base + o1, x0 * sin + x1 * cos);
      }
    }
  }
}

/**
 * ropeBatch: rows of x [rows, nHeads, headDim], each one token of its own sequence, row r rotated
 * at the position positions[r] (an i32 array). Each row goes through rope() exactly as a
 * one-row call at that position would, so the bits are the same; what the batch saves is a call
 * from the host per row.
 */
export function ropeBatch(x: usize, rows: i32, nHeads: i32, headDim: i32, positions: usize, table: usize, interleaved: bool): void {
  const rowBytes = <usize>nHeads * headDim * 4;
  for (let r = 0; r < rows; r++) {
    rope(x + <usize>r * rowBytes, 1, nHeads, headDim, load<i32>(positions + (<usize>r << 2)), table, interleaved);
  }
}
