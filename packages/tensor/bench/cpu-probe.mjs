// How many cores this process can actually get right now: `threads` threads (the caller and
// threads − 1 workers) each spin for `ms`, and the process's CPU time is divided by the wall
// time. On an idle machine it is ≈ threads; when other jobs hold the cores it drops, and
// multi-threaded figures measured at that moment cannot scale beyond it.
import { Worker } from "node:worker_threads";

export async function coresAvailable(threads, ms = 400) {
  const spin = `const end = Date.now() + ${ms}; let x = 0; while (Date.now() < end) x++;`;
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  const workers = Array.from({ length: threads - 1 }, () => new Worker(spin, { eval: true }));
  const done = workers.map((worker) => new Promise((resolve) => worker.once("exit", resolve)));
  const end = Date.now() + ms;
  while (Date.now() < end);
  await Promise.all(done);
  const u = process.cpuUsage(u0);
  return (u.user + u.system) / 1000 / (performance.now() - t0);
}
