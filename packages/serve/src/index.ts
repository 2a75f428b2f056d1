export { ServeError, type ServeErrorCode, type ServeErrorType, type ServeErrorOptions } from "./errors";

// the server
export { ZllmServer, createServer, type ServerOptions } from "./http/server";
export { ISOLATION_HEADERS } from "./http/static";

// models
export { loadServedModel, defaultId, type ServedModel, type LoadOptions } from "./model/load";
export {
  ChatTemplate, DEFAULT_CHAT_TEMPLATE, DEFAULT_TEMPLATE_STOP, type ChatTemplateOrigin, type TemplateMessage,
} from "./model/chat-template";

// the engine (continuous batching), usable without HTTP
export { Engine, type EngineOptions } from "./engine/engine";
export {
  type TokenChooser, type FinishReason, type SequenceRequest, type SequenceListener, type SequenceHandle, type SequenceResult,
} from "./engine/sequence";
export { PrefixCache, type PrefixSource } from "./engine/prefix-cache";
export { KvPool } from "./engine/kv-pool";
export { copyPrefix, kvBytesPerPosition, releaseCache } from "./engine/kv";

// request → sampling, and the text stream with stop strings
export { RequestChooser, logprobOf, readGenerationParams, type GenerationParams, type TokenLogprob } from "./api/sampling";
export { TextStream } from "./api/text-stream";
export { Fields } from "./api/fields";

export { ServerMetrics, Counter, Gauge, Histogram, LATENCY_BUCKETS, type EngineGauges } from "./metrics";
