// What the benches that run llama.cpp beside us (node-llama-cpp's CPU prebuilt) need to know of
// it: its names for our KV cache element types, and which of its CPU builds a process runs.
import { readFileSync } from "node:fs";

/** Our KV cache element types by llama.cpp's names (experimentalKvCacheKeyType / ValueType). */
export const LLAMA_KV_TYPES = { f32: "F32", f16: "F16", q8_0: "Q8_0", q4_0: "Q4_0", q4_1: "Q4_1" };

/**
 * The llama.cpp CPU build mapped into this process, or null (not Linux's /proc/self/maps, or no
 * model loaded yet). node-llama-cpp's prebuilt carries one libggml-cpu-<build>.so per
 * instruction set (haswell: AVX2; zen4, icelake, …: AVX-512 with VNNI) and loads the widest the
 * CPU has, so every llama.cpp figure depends on it: the benches print it beside their tables.
 */
export function llamaCpuBuild() {
  try {
    return /libggml-cpu-([\w-]+)\.so/.exec(readFileSync("/proc/self/maps", "utf8"))?.[1] ?? null;
  } catch {
    return null;
  }
}
