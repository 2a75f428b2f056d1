/**
 * Pearson's chi-square test of observed outcome counts against exact probabilities, as the
 * speculative-decoding tests use it: every outcome's expected count is p · runs; cells expected
 * below 5 are pooled into one (the usual validity rule for the chi-square approximation).
 */

/** The 0.999 quantile of chi-square with `dof` degrees of freedom (Wilson–Hilferty). */
export function chi2Quantile999(dof: number): number {
  const z = 3.0902;
  return dof * (1 - 2 / (9 * dof) + z * Math.sqrt(2 / (9 * dof))) ** 3;
}

/** The statistic and its number of cells (degrees of freedom = cells − 1). */
export function pooledChiSquare(expected: ReadonlyMap<string, number>, counts: ReadonlyMap<string, number>, runs: number): { chi2: number; cells: number } {
  let chi2 = 0, cells = 0, pooledExpected = 0, pooledObserved = 0;
  for (const [key, p] of expected) {
    const e = p * runs, o = counts.get(key) ?? 0;
    if (e < 5) {
      pooledExpected += e;
      pooledObserved += o;
      continue;
    }
    chi2 += (o - e) ** 2 / e;
    cells++;
  }
  if (pooledExpected > 0) {
    chi2 += (pooledObserved - pooledExpected) ** 2 / pooledExpected;
    cells++;
  }
  return { chi2, cells };
}
