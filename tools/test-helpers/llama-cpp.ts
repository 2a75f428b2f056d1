/**
 * llama.cpp as a test peer (node-llama-cpp's CPU prebuilt): one rule for when it runs. It runs
 * whenever the prebuilt binary loads here; ZLLM_LLAMA_CPP=0 turns it off; otherwise the test
 * is skipped with the reason in its title. `load` does the package's own import (node-llama-cpp
 * resolves from the package that depends on it, not from tools/).
 */
export async function startLlamaCpp<T>(load: () => Promise<T>): Promise<{ llama: T } | { reason: string }> {
  if (process.env.ZLLM_LLAMA_CPP === "0") return { reason: "ZLLM_LLAMA_CPP=0" };
  try {
    return { llama: await load() };
  } catch (e) {
    return { reason: `node-llama-cpp's prebuilt binary did not load: ${(e instanceof Error ? e.message : String(e)).split("\n")[0]}` };
  }
}
