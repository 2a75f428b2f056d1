// Times contestants in interleaved rounds, so that every contestant of a table row sees the same
// machine conditions (the machine is shared: a slow moment hits all of them, not one).
// Each contestant is first warmed up and calibrated to a sample of about `sampleMs` (reps doubled
// until a sample takes longer), then samples run round-robin for `budgetMs` per contestant; the
// best sample is kept. Returns the best milliseconds per call of each contestant, by key.

/** Wall-clock milliseconds. */
const wallMs = () => performance.now();

/** Milliseconds of this process's CPU time (all threads): a shared machine's other jobs take wall time from a run but little CPU time. */
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

function bestPerCall(contestants, budgetMs, clock, { sampleMs, warmUp }) {
  const entries = Object.entries(contestants).map(([key, fn]) => {
    for (let i = 0; i < warmUp; i++) fn();
    for (let reps = 1; ; reps *= 2) {
      const t0 = clock();
      for (let r = 0; r < reps; r++) fn();
      const dt = clock() - t0;
      if (dt > sampleMs || reps > 1 << 20) return { key, fn, reps, best: dt / reps };
    }
  });
  const end = performance.now() + budgetMs * entries.length;
  while (performance.now() < end) {
    for (const entry of entries) {
      const t0 = clock();
      for (let r = 0; r < entry.reps; r++) entry.fn();
      entry.best = Math.min(entry.best, (clock() - t0) / entry.reps);
    }
  }
  return Object.fromEntries(entries.map((entry) => [entry.key, entry.best]));
}

/** Best wall-clock milliseconds per call, ~50 ms samples. */
export function bestMsPerCall(contestants, budgetMs, { sampleMs = 50, warmUp = 1 } = {}) {
  return bestPerCall(contestants, budgetMs, wallMs, { sampleMs, warmUp });
}

/** Best process-CPU milliseconds per call, ~30 ms samples (one thread: the workers' idle spinning would count). */
export function bestCpuMsPerCall(contestants, budgetMs, { sampleMs = 30, warmUp = 1 } = {}) {
  return bestPerCall(contestants, budgetMs, cpuMs, { sampleMs, warmUp });
}
