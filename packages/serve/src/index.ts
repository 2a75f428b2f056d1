export { ServeError, type ServeErrorCode, type ServeErrorType, type ServeErrorOptions } from "./errors";

// the server
export { ZllmServer, createServer, type ServerOptions } from "./http/server";
export { ISOLATION_HEADERS } from "./http/static";

// models
export { loadServedModel, defaultId, type ServedModel, type ServedAdapter, type LoadOptions } from "./model/load";
export { withAdapters, type AdapterToServe } from "./model/adapters";
export {
  ChatTemplate, DEFAULT_CHAT_TEMPLATE, DEFAULT_TEMPLATE_STOP, type ChatTemplateOrigin, type TemplateMessage,
} from "./model/chat-template";

// the engine (continuous batching), usable without HTTP
export { Engine, type EngineOptions } from "./engine/engine";
export { BatchDrafter, DRAFT_MAX_TOKENS_DEFAULT, DRAFT_P_MIN_DEFAULT, type DraftOptions } from "./engine/speculative";
export {
  type TokenChooser, type FinishReason, type SequenceRequest, type SequenceListener, type SequenceHandle, type SequenceResult, type SequenceVariant,
} from "./engine/sequence";
export { PrefixCache, type PrefixSource } from "./engine/prefix-cache";
export { KvPool } from "./engine/kv-pool";
export { copyPrefix, kvBytesPerPosition, releaseCache } from "./engine/kv";

// request → sampling (the chain, logprobs, constraints), and tool calls
export { readGenerationParams, type GenerationParams } from "./api/sampling";
export { RequestChooser } from "./api/chooser";
export { planOutput, readResponseFormat, type OutputPlan } from "./api/output";
export { ConstraintCache } from "./model/constraints";
export { toolCallGrammar, notStartingWith, type ToolFunction, type ToolGrammarOptions } from "./api/tools/grammar";
export { ToolCallParser, type ToolCall, type ToolEvent } from "./api/tools/parser";
export { ENVELOPE as TOOL_CALL_ENVELOPE, CALL_STARTS as TOOL_CALL_STARTS } from "./model/tool-envelope";
export { Fields } from "./api/fields";

export { ServerMetrics, Counter, Gauge, Histogram, LATENCY_BUCKETS, type EngineGauges } from "./metrics";
