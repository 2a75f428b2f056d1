import { it } from "vitest";
import { expectProbabilitiesAllocateNothing } from "./helpers/sampler-alloc";

// One measured case per file, so per isolate: see helpers/sampler-alloc.ts.
it("probabilities() (speculative decoding's step) allocates nothing either", () => expectProbabilitiesAllocateNothing());
