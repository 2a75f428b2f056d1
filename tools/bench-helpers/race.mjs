// Times contestants in interleaved rounds, so that every contestant of a table row sees the same
// machine conditions (the machine is shared: a slow moment hits all of them, not one).
// Each contestant is first calibrated to a sample of about 50 ms (reps doubled until a sample
// takes longer), then samples run round-robin for `budgetMs` per contestant; the best sample
// is kept. Returns the best milliseconds per call of each contestant, by key.
export function bestMsPerCall(contestants, budgetMs) {
  const entries = Object.entries(contestants).map(([key, fn]) => {
    fn();
    let reps = 1;
    for (;;) {
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) fn();
      const dt = performance.now() - t0;
      if (dt > 50 || reps > 1 << 20) return { key, fn, reps, best: dt / reps };
      reps *= 2;
    }
  });
  const end = performance.now() + budgetMs * entries.length;
  while (performance.now() < end) {
    for (const entry of entries) {
      const t0 = performance.now();
      for (let r = 0; r < entry.reps; r++) entry.fn();
      entry.best = Math.min(entry.best, (performance.now() - t0) / entry.reps);
    }
  }
  return Object.fromEntries(entries.map((entry) => [entry.key, entry.best]));
}
