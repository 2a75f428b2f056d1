import v8 from "node:v8";

/**
 * Bytes the JavaScript heap gains per call of `step`, measured without --expose-gc.
 *
 * Every object V8 makes is born in the young generation (new space), or in a large-object space
 * when it is big; over a stretch of synchronous code, the growth of those spaces' used bytes is
 * exactly what the code allocated, provided no garbage collection ran in between (a scavenge
 * empties new space and would hide the growth). v8.GCProfiler lists the GCs of the stretch
 * synchronously, so a window with a GC counts as Infinity: a GC there is itself proof that the
 * loop allocates. Code and feedback the JIT makes go to other spaces and do not count; the
 * measurement's own objects cancel out between a window of n calls and one of 2n. The smallest of
 * several windows is taken, so a one-off event in one window (a tier-up, an inline cache
 * growing) is not blamed on the step, while a per-step allocation, even one 16-byte number
 * every 16 steps, shows in every window.
 *
 * What is measured is the code V8 compiled for `step`, and that depends on the JIT feedback of
 * everything run before in the same isolate: a model of another architecture decoded earlier
 * leaves its closures and shapes in the shared call sites. A case whose verdict must not depend
 * on what ran before gets a test file of its own (vitest runs each file in a fresh isolate): the
 * official CI once saw 16 bytes per step for a gpt2 decode measured after a llama one, a result
 * no single-case process reproduced (packages/transformer/test/decode-alloc-helpers.ts).
 */
export function allocatedPerStep(step: (i: number) => void, steps: number, windows = 5, rounds = 8): number {
  const young = (): number => v8.getHeapSpaceStatistics()
    .filter((s) => s.space_name === "new_space" || s.space_name === "new_large_object_space" || s.space_name === "large_object_space")
    .reduce((sum, s) => sum + s.space_used_size, 0);
  const window = (n: number): number => {
    const profiler = new v8.GCProfiler();
    profiler.start();
    const before = young();
    for (let i = 0; i < n; i++) step(i);
    const after = young();
    return profiler.stop().statistics.length > 0 ? Infinity : after - before;
  };
  // Windows of `steps` and of 2·`steps` calls: their difference is what `steps` calls allocate,
  // while whatever a window costs once (the probe's own objects; on a loaded machine, a tier-up
  // of this loop that lands inside every window) cancels out.
  const least = (n: number): number => {
    let min = Infinity;
    for (let w = 0; w < windows; w++) min = Math.min(min, window(n));
    return min;
  };
  // a GC inside every long window is itself proof of allocation: Infinity, never NaN
  const measure = (): number => {
    const once = least(steps), twice = least(2 * steps);
    return twice === Infinity || once === Infinity ? Infinity : (twice - once) / steps;
  };
  // The optimizing compiler runs on a background thread: on a loaded machine it can finish after
  // the caller's warm-up, and until then the step runs unoptimized code that boxes doubles. A
  // step that allocates does so in every round; one that was merely not optimized yet stops after
  // more warm-up. So a round that saw allocation warms up further and measures again.
  // A round whose long windows grew clearly less than its short ones (beyond the noise bound below) was not
  // steady either: the code changed between them (a tier-up landing after the short windows), so
  // its difference says nothing, and taken as the least it would hide a real allocation. It is
  // discarded and measured again after more warm-up. A steady round's own noise is the probe's
  // objects, which differ by a few hundred bytes between windows: under a byte per step over
  // thousands of steps, but several bytes per step over the 60 steps a 32,000-token sampler
  // case measures (the official CI saw 3.5 there, once rounds at −3 were thrown away as
  // unsteady). So the bound scales with the window: NOISE_BYTES spread over `steps`, at least 1.
  let perStep = Number.NaN; // the least over steady rounds; NaN while there is none
  let last = 0;
  for (let round = 0; round < rounds && !(perStep <= 0); round++) {
    if (round > 0) {
      // Before warming up again, give the core to V8's compiler threads: on a loaded machine the
      // optimizing compile this step waits for is queued behind other processes, and a caller
      // that only keeps calling holds the core it needs. The pause grows each round (20, 40, … ms,
      // 2.5 s in all over 8 rounds); a step that really allocates does so in every round whatever
      // the pause. (Where the figure must not depend on timing at all, run the file without
      // concurrent compilation: alloc-projects.ts.)
      pauseThread(10 * 2 ** round);
      for (let i = 0; i < steps * 20; i++) step(i);
    }
    last = measure();
    if (last >= -Math.max(1, NOISE_BYTES / steps)) perStep = Number.isNaN(perStep) ? last : Math.min(perStep, last);
  }
  if (Number.isNaN(perStep)) {
    throw new Error(`allocatedPerStep: expected a steady round (long windows growing at least as much as short ones), found none in ${rounds} rounds (last ${last.toFixed(1)} bytes per step)`);
  }
  return Math.max(0, perStep);
}

/** Blocks this thread for `ms` milliseconds without spinning (Atomics.wait on a private cell), so other threads get the core. */
function pauseThread(ms: number): void {
  Atomics.wait(PAUSE_CELL, 0, 0, ms);
}
const PAUSE_CELL = new Int32Array(new SharedArrayBuffer(4));
/**
 * Bytes by which a steady round's long-minus-short difference may fall below zero (the probe's own
 * objects); a round further below it saw the code change mid-round.
 */
const NOISE_BYTES = 1024;

/**
 * Claims this JavaScript isolate for one measured case; throws if another case already ran in it
 * (e.g. vitest configured with isolate: false), since its JIT feedback would then shape this case
 * (see allocatedPerStep). vitest runs each test file in a fresh isolate, so a file holds one case.
 */
export function claimIsolate(name: string): void {
  const g = globalThis as Record<symbol, unknown>;
  const other = g[CLAIM];
  if (other !== undefined) {
    throw new Error(`${name}: expected a JavaScript isolate of its own (one test file per measured case, vitest isolate: true), found "${String(other)}" measured in it before`);
  }
  g[CLAIM] = name;
}
const CLAIM = Symbol.for("@zero-llm/alloc-probe: measured case");
