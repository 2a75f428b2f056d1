import { it } from "vitest";
import { expectSampleAllocatesNothing } from "./helpers/sampler-alloc";

// One measured case per file, so per isolate: see helpers/sampler-alloc.ts.
it("the sampler allocates nothing per token: llama.cpp's CLI chain: penalties, DRY, top-k 40, typical, top-p 0.95, min-p 0.05, XTC, temp 0.8", () => expectSampleAllocatesNothing("llama-cpp-chain"));
