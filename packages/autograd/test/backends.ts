/**
 * Run a block of tests once per backend: the js reference, and the wasm backend on 1 and 2
 * threads (the one training runs on), so every backward rule is checked where it is used.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { createWasmBackend, getBackend, jsBackend, setBackend } from "@zero-llm/tensor";
import type { Backend } from "@zero-llm/tensor";

const BACKENDS: [string, () => Promise<Backend>][] = [
  ["js", () => Promise.resolve(jsBackend)],
  ["wasm, 1 thread", () => createWasmBackend({ threads: 1 })],
  ["wasm, 2 threads", () => createWasmBackend({ threads: 2 })],
];

export function describeOnBackends(title: string, body: () => void): void {
  describe.each(BACKENDS)(`${title} [%s]`, (_name, make) => {
    let previous: Backend;
    let made: Backend;
    beforeAll(async () => {
      previous = getBackend();
      made = await make();
      setBackend(made);
    });
    afterAll(async () => {
      setBackend(previous);
      if ("dispose" in made && typeof made.dispose === "function") await (made.dispose as () => Promise<void>)();
    });
    body();
  });
}
