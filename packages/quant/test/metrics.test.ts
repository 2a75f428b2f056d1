import { describe, expect, it } from "vitest";
import { DistributionComparison, logitsPerplexity, percentile, perplexity, QuantError, relativeRmse, rmse } from "../src/index";

describe("quality metrics", () => {
  it("rmse and relative rmse", () => {
    expect(rmse([1, 2, 3], [1, 2, 3])).toBe(0);
    expect(rmse([0, 0], [3, 4])).toBeCloseTo(Math.sqrt(12.5), 12);
    expect(relativeRmse([3, 4], [3, 4.5])).toBeCloseTo(Math.sqrt(0.125) / Math.sqrt(12.5), 12);
    expect(() => rmse([1], [1, 2])).toThrow(QuantError);
  });

  it("percentile interpolates between ranks as llama.cpp's does", () => {
    const v = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(v, 0.99)).toBeCloseTo(9.9, 12);
    expect(percentile(v, 0.5)).toBe(5);
    expect(percentile([2, 4], 0.99)).toBeCloseTo(3.98, 12);
    expect(percentile([7], 0.99)).toBe(7);
  });

  it("identical distributions: KLD 0, the same perplexity, full top-1 agreement", () => {
    const c = new DistributionComparison(3);
    c.add([1, 2, 3], [1, 2, 3], 2);
    c.add([0, 5, 1], [0, 5, 1], 0);
    const s = c.summary();
    expect(s.kldMean).toBe(0);
    expect(s.perplexity).toBe(s.perplexityBase);
    expect(s.top1Agreement).toBe(1);
    expect(s.positions).toBe(2);
  });

  it("KL divergence, perplexity and agreement against closed forms", () => {
    // base p = (0.5, 0.5), other q = (0.9, 0.1): KL = 0.5 ln(0.5/0.9) + 0.5 ln(0.5/0.1)
    const c = new DistributionComparison(2);
    c.add([0, 0], [Math.log(9), 0], 1);
    const s = c.summary();
    expect(s.kldMean).toBeCloseTo(0.5 * Math.log(0.5 / 0.9) + 0.5 * Math.log(5), 12);
    expect(s.perplexityBase).toBeCloseTo(2, 12);
    expect(s.perplexity).toBeCloseTo(10, 10);
    expect(s.top1Agreement).toBe(1); // a tie in the base picks the first token, as does the other
    expect(logitsPerplexity(new Float32Array(8), [0, 3], 4)).toBeCloseTo(4, 6); // uniform over 4 tokens
    expect(perplexity).toBe(logitsPerplexity); // the deprecated name
  });

  it("refuses bad targets and lengths", () => {
    const c = new DistributionComparison(4);
    expect(() => c.add([0, 0, 0, 0], [0, 0, 0, 0], 4)).toThrow(QuantError);
    expect(() => c.add([0, 0, 0], [0, 0, 0, 0], 1)).toThrow(QuantError);
    expect(() => c.summary()).toThrow(QuantError);
    expect(() => logitsPerplexity(new Float32Array(3), [0], 4)).toThrow(QuantError);
  });
});
