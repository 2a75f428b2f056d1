/// <reference lib="webworker" />
import { MoonsTrainer } from "../lib/moons";
import { serve } from "../lib/rpc";
import { MOONS_GRID, type MoonsProtocol } from "./moons-protocol";

let stopRequested = false;
const { size, x0, x1, y0, y1 } = MOONS_GRID;
const yieldToMessages = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

serve<MoonsProtocol>({
  async train({ seed, steps, lr, frameEvery }, emit) {
    stopRequested = false;
    const trainer = new MoonsTrainer(seed, steps, lr);
    const started = performance.now();
    for (let s = 0; s < steps; s++) {
      const record = trainer.trainStep();
      const last = s === steps - 1;
      const frame = s % frameEvery === 0 || last || stopRequested;
      emit({
        ...record,
        stepsPerSecond: (s + 1) / ((performance.now() - started) / 1000),
        points: s === 0 ? { inputs: trainer.inputs, labels: trainer.labels } : undefined,
        grid: frame ? trainer.scoreGrid(size, x0, x1, y0, y1) : undefined,
      });
      await yieldToMessages(); // lets a "stop" in
      if (stopRequested) break;
    }
    // the CLI's last line: the loss after the last update
    const final = trainer.trainStep();
    return { final: { ...final, step: trainer.step - 1 }, ms: performance.now() - started, stopped: stopRequested };
  },
  stop() {
    stopRequested = true;
    return null;
  },
});
