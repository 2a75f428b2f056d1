export { SamplingError } from "./errors";
export { Rng, type RngState } from "./rng";
export {
  argmax, softmax, temperature, topK, kthLargest, topP, minP, repetitionPenalty, type LogitsProcessor,
} from "./processors";
export { Sampler, drawFrom, type SamplerOptions } from "./sampler";
// constrained decoding (src/constrain): grammars, JSON Schema, regex and choices compiled to token masks
export * from "./constrain";
