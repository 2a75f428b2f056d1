import { it } from "vitest";
import { expectSampleAllocatesNothing } from "./helpers/sampler-alloc";

// One measured case per file, so per isolate: see helpers/sampler-alloc.ts.
it("the sampler allocates nothing per token: DRY", () => expectSampleAllocatesNothing("dry"));
