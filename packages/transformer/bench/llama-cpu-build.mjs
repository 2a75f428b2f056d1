// Which of llama.cpp's CPU builds this process runs. node-llama-cpp's prebuilt carries one
// libggml-cpu-<build>.so per instruction set (haswell: AVX2; zen4, icelake, …: AVX-512 with
// VNNI) and loads the widest the CPU has, so every llama.cpp figure depends on it: the benches
// print it beside their tables. Linux (/proc/self/maps); null elsewhere or before a model loads.
import { readFileSync } from "node:fs";

export function llamaCpuBuild() {
  try {
    return /libggml-cpu-([\w-]+)\.so/.exec(readFileSync("/proc/self/maps", "utf8"))?.[1] ?? null;
  } catch {
    return null;
  }
}
