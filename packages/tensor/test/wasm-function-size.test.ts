// The kernel module's functions stay small enough that V8's optimizing compiler is cheap on them.
// V8 recompiles a hot wasm function with TurboFan in a background thread, and the compiler's
// memory grows with the function (measured in Node 20, --trace-wasm-compilation-times: a 9.6 KB
// function 1.1 MB, 12 KB 1.7 MB, 41 KB 6.4 MB), most of which the process keeps afterwards (malloc
// holds on to a background thread's freed memory). When matmulQuant's q8_0/q4_0/q4_1 kernels were
// inlined into one 41 KB function, that alone was 6–8 MB of a 15M Q4_0 decode's peak (quant
// README, "peak resident memory"). A kernel that needs more than MAX_BODY_BYTES is split into one
// function per case (as assembly/quant-dot.ts does per block type), so only the cases a model
// uses are ever compiled.
import { describe, expect, it } from "vitest";
import { kernelModuleBytes } from "../src/backend/wasm-module";

const MAX_BODY_BYTES = 20_000;

/** Body sizes (bytes) of the functions a module defines, read from its code section (id 10). */
function functionBodySizes(bytes: Uint8Array): number[] {
  let p = 8; // magic, version
  const leb = (): number => {
    let result = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = bytes[p++];
      result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return result;
  };
  while (p < bytes.length) {
    const id = bytes[p++];
    const length = leb();
    const end = p + length;
    if (id === 10) {
      const sizes: number[] = [];
      for (let n = leb(); n > 0; n--) {
        const size = leb();
        sizes.push(size);
        p += size;
      }
      return sizes;
    }
    p = end;
  }
  throw new Error("no code section");
}

describe("kernel module function sizes", () => {
  for (const [name, shared, relaxed] of [["shared", true, false], ["unshared", false, false], ["shared relaxed", true, true], ["unshared relaxed", false, true]] as const) {
    it(`${name}: every function body ≤ ${MAX_BODY_BYTES} bytes`, async () => {
      const sizes = functionBodySizes(await kernelModuleBytes(shared, relaxed));
      expect(sizes.length).toBeGreaterThan(40);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_BODY_BYTES);
    });
  }

  it("the reader reads each body size of a code section (one of 41,042 bytes, as the previous build had)", () => {
    // a module of a code section only, bodies of 41,042 and 12 bytes
    const body = (size: number) => [...encodeLeb(size), ...new Array<number>(size).fill(0x01)];
    const code = [...encodeLeb(2), ...body(41042), ...body(12)];
    const module = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 10, ...encodeLeb(code.length), ...code]);
    expect(functionBodySizes(module)).toEqual([41042, 12]);
  });
});

function encodeLeb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}
