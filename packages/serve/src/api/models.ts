import { sendJson } from "../http/respond";
import type { ServedAdapter } from "../model/load";
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

/** "base+adapter": the base's object under the combined id, with the adapter described in `meta.lora`. */
function adapterObject(slot: ModelSlot, adapter: ServedAdapter): Record<string, unknown> {
  const base = modelObject(slot);
  return {
    ...base,
    id: `${slot.served.id}+${adapter.name}`,
    parent: slot.served.id,
    meta: {
      ...(base.meta as Record<string, unknown>),
      lora: { name: adapter.name, source: adapter.source, scale: adapter.scale, rank: adapter.rank, modules: adapter.modules, bytes: adapter.bytes },
    },
  };
}

export function listModels(ctx: RouteContext): void {
  const data: Record<string, unknown>[] = [];
  for (const slot of ctx.models.values()) {
    data.push(modelObject(slot));
    for (const adapter of slot.served.adapters?.values() ?? []) data.push(adapterObject(slot, adapter));
  }
  sendJson(ctx.res, 200, { object: "list", data });
}

export function getModel(ctx: RouteContext, id: string): void {
  const slot = resolveModel(ctx.models, id);
  if (!slot.adapter) {
    sendJson(ctx.res, 200, modelObject(slot));
    return;
  }
  const base = ctx.models.get(id.slice(0, id.indexOf("+")));
  sendJson(ctx.res, 200, adapterObject(base ?? slot, slot.adapter));
}
