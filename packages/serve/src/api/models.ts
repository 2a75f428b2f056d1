import { sendJson } from "../http/respond";
import { resolveModel, type ModelSlot, type RouteContext } from "./context";

/**
 * GET /v1/models and GET /v1/models/{id}: OpenAI's model objects, plus what a client needs to
 * size its requests: `context_length`, the per-sequence context (prompt + completion) every
 * request gets, whatever runs beside it; and a `meta` object with the architecture and the
 * engine's limits (parallel sequences, KV-cache budget).
 */
export function modelObject(slot: ModelSlot): Record<string, unknown> {
  const { served, engine } = slot;
  const c = served.model.config;
  return {
    id: served.id,
    object: "model",
    created: served.created,
    owned_by: "zero-llm",
    context_length: engine.ctx,
    meta: {
      architecture: c.arch,
      vocab_size: c.vocabSize,
      dim: c.dim,
      layers: c.nLayers,
      trained_context_length: c.seqLen,
      parallel: engine.parallel,
      kv_cache_capacity_bytes: engine.kvCapacityBytes,
      chat_template: served.chatTemplate.origin,
      ...(engine.drafter
        ? { speculative: { draft_model: served.draft?.source ?? null, draft_max_tokens: engine.drafter.maxTokens, draft_p_min: engine.drafter.pMin } }
        : {}),
    },
  };
}

export function listModels(ctx: RouteContext): void {
  sendJson(ctx.res, 200, { object: "list", data: [...ctx.models.values()].map(modelObject) });
}

export function getModel(ctx: RouteContext, id: string): void {
  sendJson(ctx.res, 200, modelObject(resolveModel(ctx.models, id)));
}
