import { it } from "vitest";
import { expectLogprobsAllocateNothing } from "./helpers/sampler-alloc";

// One measured case per file, so per isolate: see helpers/sampler-alloc.ts. (Measured after
// logprobs.test.ts's other cases, it saw feedback from Sampler.processedLogits rows and thrown errors.)
it("Logprobs.compute() allocates nothing", () => expectLogprobsAllocateNothing());
