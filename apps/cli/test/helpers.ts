import { Writable } from "node:stream";
import { main } from "../src/main";
import type { Command } from "../src/command";

/** Runs `zllm argv` in-process and captures what it writes. */
export async function runCli(argv: string[], commands?: readonly Command[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const sink = (append: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        append(chunk.toString());
        callback();
      },
    });
  const code = await main(argv, { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)) }, commands);
  return { code, stdout, stderr };
}
