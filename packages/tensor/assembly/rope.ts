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
    let i = 0;
    if (!interleaved) {
      // HF's halves: four pairs a vector (x[i…i+3] with x[i+half…]), cos and sin of four pairs
      // unzipped from the table; each lane's multiplies and sum as the scalar loop's
      for (; i + 4 <= half; i += 4) {
        const t0 = v128.load(angles + (<usize>i << 3)), t1 = v128.load(angles + (<usize>i << 3), 16);
        const cos = v128.shuffle<f32>(t0, t1, 0, 2, 4, 6), sin = v128.shuffle<f32>(t0, t1, 1, 3, 5, 7);
        for (let h = 0; h < nHeads; h++) {
          const p0 = row + <usize>h * headDim * 4 + (<usize>i << 2), p1 = p0 + (<usize>half << 2);
          const x0 = v128.load(p0), x1 = v128.load(p1);
          v128.store(p0, f32x4.sub(f32x4.mul(x0, cos), f32x4.mul(x1, sin)));
          v128.store(p1, f32x4.add(f32x4.mul(x0, sin), f32x4.mul(x1, cos)));
        }
      }
    }
    for (; i < half; i++) {
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
