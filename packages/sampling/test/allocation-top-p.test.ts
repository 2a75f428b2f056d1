import { it } from "vitest";
import { expectSampleAllocatesNothing } from "./helpers/sampler-alloc";

// One measured case per file, so per isolate: see helpers/sampler-alloc.ts.
it("the sampler allocates nothing per token: top-p 0.9 over the whole vocabulary", () => expectSampleAllocatesNothing("top-p"));
