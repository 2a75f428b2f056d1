// How the kernel module's bytes are shipped (scripts/build-wasm.mjs, src/backend/wasm-module.ts):
// one generated module per build, imported only when that build is used, its base64 in lines of
// at most 8,192 characters. Both keep large buffers out of a process's start: Node frees the
// buffer it read a module's file into, V8's parser the buffer it copied a string literal into,
// and glibc raises its malloc trim threshold to twice the largest such buffer freed, so that
// every thread's arena keeps that much freed memory (quant MEASUREMENTS.md, "Peak resident memory").
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { kernelModuleBytes } from "../src/backend/wasm-module";

const generated = path.join(path.dirname(fileURLToPath(import.meta.url)), "../src/backend/generated");
const MAX_LINE_CHARS = 8192 + 8; // a part, its quotes, indent and comma
const MAX_FILE_BYTES = 200_000; // one build (~160 KB of base64), never all four (~640 KB)

describe("generated kernel files", () => {
  const builds = [["shared", true, false], ["unshared", false, false], ["shared-relaxed", true, true], ["unshared-relaxed", false, true]] as const;

  it("one file per build and nothing else", () => {
    expect(readdirSync(generated).sort()).toEqual(builds.map(([name]) => `kernels-wasm-${name}.ts`).sort());
  });

  it.each(builds)("%s: short lines, one build's bytes, decoding to a valid wasm module", async (name, shared, relaxed) => {
    const text = readFileSync(path.join(generated, `kernels-wasm-${name}.ts`), "utf8");
    expect(text.length).toBeLessThanOrEqual(MAX_FILE_BYTES);
    for (const line of text.split("\n")) expect(line.length).toBeLessThanOrEqual(MAX_LINE_CHARS);
    const bytes = await kernelModuleBytes(shared, relaxed);
    expect([...bytes.subarray(0, 8)]).toEqual([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    const base64 = [...text.matchAll(/"([A-Za-z0-9+/=]+)"/g)].map((m) => m[1]).join("");
    expect(Buffer.from(base64, "base64").equals(Buffer.from(bytes))).toBe(true);
  });
});
