export { SamplingError, type SamplingErrorCode } from "./errors";
export { Sampler, type SamplerOptions, type SamplerState, type ResolvedSamplerOptions } from "./sampler";
export {
  mostLikelyToken, logitsToProbs, temperature, topK, typicalP, topP, minP, xtc, repetitionPenalty, penalties, dry,
  logitBias, tokenMask, type LogitsProcessor,
} from "./processors";
export { applyTokenMask, type LogitBiasInput } from "./penalties";
export { DRY_DEFAULT_BREAKERS, dryBreakersFromStrings, type DryVocabulary } from "./dry";
export { kthLargest } from "./select";
export { portableExp, portableLog } from "./portable-math";
export { Logprobs, toOpenAI, type TokenLogprob, type TopLogprob, type OpenAILogprob } from "./logprobs";
export { StopConditions, StopStrings, type StopOptions, type StopReason } from "./stop";
export { beamSearch, type BeamSearchModel, type BeamSearchOptions, type BeamHypothesis } from "./beam";
export type { SpeculativeModel, Drafter } from "./speculative/model";
export { ModelDrafter, PromptLookupDrafter, type ModelDrafterOptions } from "./speculative/drafters";
export { SpeculativeVerifier } from "./speculative/verify";
export { speculativeGenerate, SpeculativeGeneration, type SpeculativeOptions, type SpeculativeStats } from "./speculative/decoder";
// constrained decoding (src/constrain): grammars, JSON Schema, regex and choices compiled to token masks
export * from "./constrain";
