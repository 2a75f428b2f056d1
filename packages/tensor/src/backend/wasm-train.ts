import { TensorError } from "../errors";
import type { AdamHyper, TrainKernels } from "./backend";
import type { KernelExports } from "./wasm-module";
import { need, type Staging } from "./wasm-staging";

/**
 * The training kernels of the wasm backend (assembly/train.ts), one thread: each call stages
 * its arrays (in place when they already live in wasm memory, as @zero-llm/autograd's scratch
 * buffers and parameters do), runs the SIMD kernel and copies results back. The backend class
 * extends this one and supplies `begin()`.
 */
export abstract class WasmTrainKernels implements TrainKernels {
  constructor(protected readonly kernels: KernelExports) {}

  protected abstract begin(): Staging;

  transpose(out: Float32Array, x: Float32Array, batch: number, rows: number, cols: number): void {
    const n = batch * rows * cols;
    need("transpose x", x, n);
    need("transpose out", out, n);
    if (n === 0) return;
    const s = this.begin();
    const px = s.in(x);
    this.kernels.transpose(s.out(out, false), px, batch, rows, cols);
    s.done();
  }

  gatherHeads(out: Float32Array, x: Float32Array, batch: number, seq: number, nSrc: number, nHeads: number, d: number): void {
    need("gatherHeads x", x, batch * seq * nSrc * d);
    need("gatherHeads out", out, batch * nHeads * seq * d);
    if (nHeads % nSrc !== 0) throw new TensorError("INVALID_ARGUMENT", `wasm gatherHeads: expected nHeads divisible by nSrc, found ${nHeads} and ${nSrc}`);
    if (batch * nHeads * seq * d === 0) return;
    const s = this.begin();
    const px = s.in(x);
    this.kernels.gatherHeads(s.out(out, false), px, batch, seq, nSrc, nHeads, d);
    s.done();
  }

  scatterHeadsAdd(g: Float32Array, x: Float32Array, batch: number, seq: number, nDst: number, group: number, d: number): void {
    need("scatterHeadsAdd x", x, batch * nDst * group * seq * d);
    need("scatterHeadsAdd g", g, batch * seq * nDst * d);
    if (batch * nDst * group * seq * d === 0) return;
    const s = this.begin();
    const px = s.in(x);
    this.kernels.scatterHeadsAdd(s.out(g, true), px, batch, seq, nDst, group, d);
    s.done();
  }

  axpy(out: Float32Array, x: Float32Array, alpha: number): void {
    need("axpy x", x, out.length);
    const s = this.begin();
    const px = s.in(x);
    this.kernels.axpy(s.out(out, true), px, alpha, out.length);
    s.done();
  }

  mulAdd(out: Float32Array, a: Float32Array, b: Float32Array): void {
    need("mulAdd a", a, out.length);
    need("mulAdd b", b, out.length);
    const s = this.begin();
    const pa = s.in(a), pb = s.in(b);
    this.kernels.mulAdd(s.out(out, true), pa, pb, out.length);
    s.done();
  }

  scale(x: Float32Array, factor: number): void {
    const s = this.begin();
    this.kernels.scale(s.out(x, true), factor, x.length);
    s.done();
  }

  sumSquares(x: Float32Array): number {
    const s = this.begin();
    const total = this.kernels.sumSquares(s.in(x), x.length);
    s.done();
    return total;
  }

  geluBackward(gx: Float32Array, x: Float32Array, dy: Float32Array): void {
    this.unaryBackward("geluBackward", gx, x, dy);
  }

  siluBackward(gx: Float32Array, x: Float32Array, dy: Float32Array): void {
    this.unaryBackward("siluBackward", gx, x, dy);
  }

  private unaryBackward(op: "geluBackward" | "siluBackward", gx: Float32Array, x: Float32Array, dy: Float32Array): void {
    need(`${op} x`, x, gx.length);
    need(`${op} dy`, dy, gx.length);
    const s = this.begin();
    const px = s.in(x), pd = s.in(dy);
    this.kernels[op](s.out(gx, true), px, pd, gx.length);
    s.done();
  }

  softmaxBackward(gx: Float32Array, y: Float32Array, dy: Float32Array, rows: number, cols: number, factor: number): void {
    const n = rows * cols;
    need("softmaxBackward y", y, n);
    need("softmaxBackward dy", dy, n);
    need("softmaxBackward gx", gx, n);
    if (n === 0) return;
    const s = this.begin();
    const py = s.in(y), pd = s.in(dy);
    this.kernels.softmaxBackward(s.out(gx, true), py, pd, rows, cols, factor);
    s.done();
  }

  layernormBackward(
    gx: Float32Array | null, gw: Float32Array | null, gb: Float32Array | null,
    x: Float32Array, w: Float32Array | null, dy: Float32Array, rows: number, cols: number, eps: number,
  ): void {
    const n = rows * cols;
    need("layernormBackward x", x, n);
    need("layernormBackward dy", dy, n);
    if (gx) need("layernormBackward gx", gx, n);
    for (const [name, v] of [["w", w], ["gw", gw], ["gb", gb]] as const) if (v) need(`layernormBackward ${name}`, v, cols);
    if (n === 0) return;
    const s = this.begin();
    const px = s.in(x), pd = s.in(dy), pw = w ? s.in(w) : 0;
    const pgx = gx ? s.out(gx, true) : 0, pgw = gw ? s.out(gw, true) : 0, pgb = gb ? s.out(gb, true) : 0;
    this.kernels.layernormBackward(pgx, pgw, pgb, px, pw, pd, rows, cols, eps);
    s.done();
  }

  rmsnormBackward(
    gx: Float32Array | null, gw: Float32Array | null,
    x: Float32Array, w: Float32Array | null, dy: Float32Array, rows: number, cols: number, eps: number,
  ): void {
    const n = rows * cols;
    need("rmsnormBackward x", x, n);
    need("rmsnormBackward dy", dy, n);
    if (gx) need("rmsnormBackward gx", gx, n);
    for (const [name, v] of [["w", w], ["gw", gw]] as const) if (v) need(`rmsnormBackward ${name}`, v, cols);
    if (n === 0) return;
    const s = this.begin();
    const px = s.in(x), pd = s.in(dy), pw = w ? s.in(w) : 0;
    const pgx = gx ? s.out(gx, true) : 0, pgw = gw ? s.out(gw, true) : 0;
    this.kernels.rmsnormBackward(pgx, pgw, px, pw, pd, rows, cols, eps);
    s.done();
  }

  crossEntropyBackward(
    gz: Float32Array, z: Float32Array, lse: Float32Array, target: Float32Array,
    rows: number, cols: number, factor: number, smoothing: number,
  ): void {
    need("crossEntropyBackward z", z, rows * cols);
    need("crossEntropyBackward gz", gz, rows * cols);
    need("crossEntropyBackward lse", lse, rows);
    need("crossEntropyBackward target", target, rows);
    for (let r = 0; r < rows; r++) {
      // the kernel indexes the row by the target: check it here, once per row
      if (target[r] >= 0 && !(Number.isInteger(target[r]) && target[r] < cols)) {
        throw new TensorError("INVALID_ARGUMENT", `wasm crossEntropyBackward: expected targets in [0, ${cols}) or negative (skipped), found ${target[r]} at row ${r}`);
      }
    }
    if (rows * cols === 0) return;
    const s = this.begin();
    const pz = s.in(z), pl = s.in(lse), pt = s.in(target);
    this.kernels.crossEntropyBackward(s.out(gz, true), pz, pl, pt, rows, cols, factor, smoothing);
    s.done();
  }

  expSumRows(sum: Float32Array, max: Float32Array, z: Float32Array, rows: number, cols: number): void {
    need("expSumRows z", z, rows * cols);
    need("expSumRows sum", sum, rows);
    need("expSumRows max", max, rows);
    if (rows === 0) return;
    const s = this.begin();
    const pz = s.in(z);
    const ps = s.out(sum, false), pm = s.out(max, false);
    this.kernels.expSumRows(ps, pm, pz, rows, cols);
    s.done();
  }

  adam(p: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, h: AdamHyper): void {
    for (const [name, a] of [["grad", grad], ["m", m], ["v", v]] as const) need(`adam ${name}`, a, p.length);
    const s = this.begin();
    const pg = s.in(grad);
    const pp = s.out(p, true), pm = s.out(m, true), pv = s.out(v, true);
    this.kernels.adam(pp, pg, pm, pv, p.length, h.beta1, h.beta2, h.eps, h.stepSize, h.c2, h.shrink, h.l2);
    s.done();
  }
}
