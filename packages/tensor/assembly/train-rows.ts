// Row-wise kernels of the backward pass: the derivatives of softmax, LayerNorm and RMSNorm, and
// the fused softmax cross-entropy. Gradients accumulate (`+=`); row statistics are recomputed
// from the forward inputs.
import { exp4, hsum, madd } from "./simd";

@inline function at(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

@inline function dotRow(a: usize, b: usize, cols: i32): f32 {
  const c4 = cols & ~3;
  let acc = f32x4.splat(0);
  let c = 0;
  for (; c < c4; c += 4) acc = madd(acc, v128.load(at(a, c)), v128.load(at(b, c)));
  let s = hsum(acc);
  for (; c < cols; c++) s += load<f32>(at(a, c)) * load<f32>(at(b, c));
  return s;
}

/** gx += scale · y ⊙ (dy − Σ_c dy_c·y_c), per row of y = softmax(x) [rows, cols]. */
export function softmaxBackward(gx: usize, y: usize, dy: usize, rows: i32, cols: i32, scaleBy: f32): void {
  const c4 = cols & ~3;
  const sv = f32x4.splat(scaleBy);
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * cols * 4;
    const yr = y + o, dr = dy + o, gr = gx + o;
    const dot = dotRow(dr, yr, cols);
    const dv = f32x4.splat(dot);
    let c = 0;
    for (; c < c4; c += 4) {
      const t = f32x4.mul(f32x4.mul(v128.load(at(yr, c)), f32x4.sub(v128.load(at(dr, c)), dv)), sv);
      v128.store(at(gr, c), f32x4.add(v128.load(at(gr, c)), t));
    }
    for (; c < cols; c++) store<f32>(at(gr, c), load<f32>(at(gr, c)) + scaleBy * load<f32>(at(yr, c)) * (load<f32>(at(dr, c)) - dot));
  }
}

/**
 * LayerNorm backward per row, with x̂ = (x − μ)·r, r = 1/√(σ² + eps), ĝ = dy ⊙ w (w = 1 when 0):
 *   gx += r · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)),   gw += dy ⊙ x̂,   gb += dy
 * Any of gx, gw, gb may be 0 (not wanted).
 */
export function layernormBackward(gx: usize, gw: usize, gb: usize, x: usize, w: usize, dy: usize, rows: i32, cols: i32, eps: f32): void {
  const c4 = cols & ~3;
  const n = <f32>cols;
  const one = f32x4.splat(1);
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * cols * 4;
    const xr = x + o, dr = dy + o;
    // μ and σ² as the forward kernel forms them (two passes)
    let acc = f32x4.splat(0);
    let c = 0;
    for (; c < c4; c += 4) acc = f32x4.add(acc, v128.load(at(xr, c)));
    let sum = hsum(acc);
    for (; c < cols; c++) sum += load<f32>(at(xr, c));
    const mean = sum / n;
    const mv = f32x4.splat(mean);
    acc = f32x4.splat(0);
    for (c = 0; c < c4; c += 4) { const d = f32x4.sub(v128.load(at(xr, c)), mv); acc = madd(acc, d, d); }
    let sq = hsum(acc);
    for (; c < cols; c++) { const d = load<f32>(at(xr, c)) - mean; sq += d * d; }
    const rstd: f32 = <f32>1 / Mathf.sqrt(sq / n + eps);
    const rv = f32x4.splat(rstd);
    // mean(ĝ) and mean(ĝ ⊙ x̂)
    let ag = f32x4.splat(0), agx = f32x4.splat(0);
    for (c = 0; c < c4; c += 4) {
      const g = f32x4.mul(v128.load(at(dr, c)), w != 0 ? v128.load(at(w, c)) : one);
      const xh = f32x4.mul(f32x4.sub(v128.load(at(xr, c)), mv), rv);
      ag = f32x4.add(ag, g);
      agx = madd(agx, g, xh);
    }
    let sg = hsum(ag), sgx = hsum(agx);
    for (; c < cols; c++) {
      const g = load<f32>(at(dr, c)) * (w != 0 ? load<f32>(at(w, c)) : 1);
      sg += g;
      sgx += g * (load<f32>(at(xr, c)) - mean) * rstd;
    }
    const mg = sg / n, mgx = sgx / n;
    const mgv = f32x4.splat(mg), mgxv = f32x4.splat(mgx);
    for (c = 0; c < c4; c += 4) {
      const d = v128.load(at(dr, c));
      const xh = f32x4.mul(f32x4.sub(v128.load(at(xr, c)), mv), rv);
      if (gx != 0) {
        const g = f32x4.mul(d, w != 0 ? v128.load(at(w, c)) : one);
        const t = f32x4.mul(rv, f32x4.sub(f32x4.sub(g, mgv), f32x4.mul(xh, mgxv)));
        v128.store(at(gx + o, c), f32x4.add(v128.load(at(gx + o, c)), t));
      }
      if (gw != 0) v128.store(at(gw, c), madd(v128.load(at(gw, c)), d, xh));
      if (gb != 0) v128.store(at(gb, c), f32x4.add(v128.load(at(gb, c)), d));
    }
    for (; c < cols; c++) {
      const d = load<f32>(at(dr, c));
      const xh = (load<f32>(at(xr, c)) - mean) * rstd;
      if (gx != 0) {
        const g = d * (w != 0 ? load<f32>(at(w, c)) : 1);
        store<f32>(at(gx + o, c), load<f32>(at(gx + o, c)) + rstd * (g - mg - xh * mgx));
      }
      if (gw != 0) store<f32>(at(gw, c), load<f32>(at(gw, c)) + d * xh);
      if (gb != 0) store<f32>(at(gb, c), load<f32>(at(gb, c)) + d);
    }
  }
}

/**
 * RMSNorm backward per row, with r = 1/√(mean(x²) + eps) and ĝ = dy ⊙ w (w = 1 when 0):
 *   gx += r · (ĝ − x · r² · mean(ĝ ⊙ x)),   gw += dy ⊙ x · r
 */
export function rmsnormBackward(gx: usize, gw: usize, x: usize, w: usize, dy: usize, rows: i32, cols: i32, eps: f32): void {
  const c4 = cols & ~3;
  const n = <f32>cols;
  const one = f32x4.splat(1);
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * cols * 4;
    const xr = x + o, dr = dy + o;
    let aq = f32x4.splat(0), agx = f32x4.splat(0);
    let c = 0;
    for (; c < c4; c += 4) {
      const v = v128.load(at(xr, c));
      aq = madd(aq, v, v);
      agx = madd(agx, f32x4.mul(v128.load(at(dr, c)), w != 0 ? v128.load(at(w, c)) : one), v);
    }
    let sq = hsum(aq), sgx = hsum(agx);
    for (; c < cols; c++) {
      const v = load<f32>(at(xr, c));
      sq += v * v;
      sgx += load<f32>(at(dr, c)) * (w != 0 ? load<f32>(at(w, c)) : 1) * v;
    }
    const rstd: f32 = <f32>1 / Mathf.sqrt(sq / n + eps);
    const k: f32 = rstd * rstd * (sgx / n);
    const rv = f32x4.splat(rstd), kv = f32x4.splat(k);
    for (c = 0; c < c4; c += 4) {
      const d = v128.load(at(dr, c)), v = v128.load(at(xr, c));
      if (gx != 0) {
        const g = f32x4.mul(d, w != 0 ? v128.load(at(w, c)) : one);
        v128.store(at(gx + o, c), madd(v128.load(at(gx + o, c)), rv, f32x4.sub(g, f32x4.mul(v, kv))));
      }
      if (gw != 0) v128.store(at(gw, c), madd(v128.load(at(gw, c)), d, f32x4.mul(v, rv)));
    }
    for (; c < cols; c++) {
      const d = load<f32>(at(dr, c)), v = load<f32>(at(xr, c));
      if (gx != 0) store<f32>(at(gx + o, c), load<f32>(at(gx + o, c)) + rstd * (d * (w != 0 ? load<f32>(at(w, c)) : 1) - v * k));
      if (gw != 0) store<f32>(at(gw, c), load<f32>(at(gw, c)) + d * v * rstd);
    }
  }
}

/**
 * Fused softmax cross-entropy backward, per row of logits z [rows, cols] with lse = log Σ e^z:
 *   gz += scale_r · (e^(z − lse) − q),   q = (1 − ε)·onehot(target) + ε/cols
 * target [rows] holds each row's class as a float; a negative one skips the row (ignored).
 */
export function crossEntropyBackward(gz: usize, z: usize, lse: usize, target: usize, rows: i32, cols: i32, scaleBy: f32, smoothing: f32): void {
  const c4 = cols & ~3;
  const sv = f32x4.splat(scaleBy);
  const qv = f32x4.splat(smoothing / <f32>cols);
  for (let r = 0; r < rows; r++) {
    const y = <i32>load<f32>(at(target, r));
    if (y < 0) continue;
    const o = <usize>r * cols * 4;
    const zr = z + o, gr = gz + o;
    const lv = f32x4.splat(load<f32>(at(lse, r)));
    let c = 0;
    for (; c < c4; c += 4) {
      const p = exp4(f32x4.sub(v128.load(at(zr, c)), lv));
      v128.store(at(gr, c), madd(v128.load(at(gr, c)), sv, f32x4.sub(p, qv)));
    }
    for (; c < cols; c++) {
      const p = f32x4.extract_lane(exp4(f32x4.splat(load<f32>(at(zr, c)) - load<f32>(at(lse, r)))), 0);
      store<f32>(at(gr, c), load<f32>(at(gr, c)) + scaleBy * (p - smoothing / <f32>cols));
    }
    // the one-hot part of q
    store<f32>(at(gr, y), load<f32>(at(gr, y)) - scaleBy * (1 - smoothing));
  }
}

/**
 * Per row of z [rows, cols]: out[r] = Σ_c e^(z_c − m_r) with m_r = max_c z_c, and maxOut[r] = m_r,
 * so the host forms lse = m + log(sum) in f64 (the log is the host's: no transcendental here
 * beyond exp).
 */
export function expSumRows(sumOut: usize, maxOut: usize, z: usize, rows: i32, cols: i32): void {
  const c4 = cols & ~3;
  for (let r = 0; r < rows; r++) {
    const zr = z + <usize>r * cols * 4;
    let mv = f32x4.splat(-Infinity);
    let c = 0;
    for (; c < c4; c += 4) mv = f32x4.pmax(mv, v128.load(at(zr, c)));
    let m = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (; c < cols; c++) m = max(m, load<f32>(at(zr, c)));
    const mm = f32x4.splat(m);
    let acc = f32x4.splat(0);
    for (c = 0; c < c4; c += 4) acc = f32x4.add(acc, exp4(f32x4.sub(v128.load(at(zr, c)), mm)));
    let s = hsum(acc);
    for (; c < cols; c++) s += f32x4.extract_lane(exp4(f32x4.splat(load<f32>(at(zr, c)) - m)), 0);
    store<f32>(at(sumOut, r), s);
    store<f32>(at(maxOut, r), m);
  }
}

