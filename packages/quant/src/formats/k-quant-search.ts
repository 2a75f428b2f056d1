import { f32, nearestInt } from "./c-float";

/**
 * ggml's `make_qkx2_quants`, operation for operation in float32: fit codes L[i] in [0, nmax] and
 * an affine map x ≈ scale · L + min (min ≤ 0) to the n values x[xOffset …], minimising the error
 * weighted by `weights` (squared, or absolute with `useMad`).
 *
 * It starts from the plain fit (scale = (max − min) / nmax) and then tries nstep + 1 other
 * inverse scales, (rmin + rdelta·is + nmax) / (max − min), each followed by the weighted
 * least-squares scale and min for the codes it gives; the best one wins. Returns the scale and
 * the offset as a positive number (`min` here is −the fitted min, as ggml's `the_min`).
 */
export function makeQkx2Quants(
  n: number, nmax: number, x: Float32Array, xOffset: number, weights: Float32Array,
  L: Uint8Array, lOffset: number, Laux: Uint8Array,
  rmin: number, rdelta: number, nstep: number, useMad: boolean,
): { scale: number; min: number } {
  let min = x[xOffset], max = x[xOffset];
  let sumW = weights[0];
  let sumX = f32(sumW * x[xOffset]);
  for (let i = 1; i < n; i++) {
    const xi = x[xOffset + i];
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    const w = weights[i];
    sumW = f32(sumW + w);
    sumX = f32(sumX + f32(w * xi));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, lOffset, lOffset + n);
    return { scale: 0, min: -min };
  }
  const errorOf = (diff: number): number => (useMad ? Math.abs(diff) : f32(diff * diff));

  let iscale = f32(nmax / f32(max - min));
  let scale = f32(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = Math.max(0, Math.min(nmax, nearestInt(f32(iscale * f32(x[xOffset + i] - min)))));
    L[lOffset + i] = l;
    const diff = f32(f32(f32(scale * l) + min) - x[xOffset + i]);
    bestError = f32(bestError + f32(weights[i] * errorOf(diff)));
  }
  if (nstep < 1) return { scale, min: -min };

  for (let is = 0; is <= nstep; is++) {
    iscale = f32(f32(f32(rmin + f32(rdelta * is)) + nmax) / f32(max - min));
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.max(0, Math.min(nmax, nearestInt(f32(iscale * f32(x[xOffset + i] - min)))));
      Laux[i] = l;
      const wl = f32(weights[i] * l);
      sumL = f32(sumL + wl);
      sumL2 = f32(sumL2 + f32(wl * l));
      sumXL = f32(sumXL + f32(wl * x[xOffset + i]));
    }
    const D = f32(f32(sumW * sumL2) - f32(sumL * sumL));
    if (D > 0) {
      let thisScale = f32(f32(f32(sumW * sumXL) - f32(sumX * sumL)) / D);
      let thisMin = f32(f32(f32(sumL2 * sumX) - f32(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f32(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        const diff = f32(f32(f32(thisScale * Laux[i]) + thisMin) - x[xOffset + i]);
        curError = f32(curError + f32(weights[i] * errorOf(diff)));
      }
      if (curError < bestError) {
        for (let i = 0; i < n; i++) L[lOffset + i] = Laux[i];
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  return { scale, min: -min };
}
