import { decodeUtf8 } from "@zero-llm/tokenizer-bpe";
import { sendJson } from "../http/respond";
import { resolveModel, type ModelSlot, type RouteContext } from "./context";
import { Fields, invalidType, invalidValue, missing } from "./fields";

/**
 * POST /tokenize and POST /detokenize, in llama.cpp server's shapes:
 *   /tokenize   { "content": "text", "add_special": false, "parse_special": true, "with_pieces": false }
 *               → { "tokens": [ids] }, or with_pieces: { "tokens": [{ "id", "piece" }] } where piece is
 *                 the token's text, or its bytes as a number array when they are not whole UTF-8
 *   /detokenize { "tokens": [ids] } → { "content": "text" }
 * "model" picks the model (default: the first); add_special puts the model's bos in front.
 */
export function tokenize(ctx: RouteContext): void {
  const f = Fields.of(ctx.body);
  const { served } = resolveModel(ctx.models, f.string("model"));
  const content = f.string("content");
  if (content === undefined) throw missing("content");
  const addSpecial = f.boolean("add_special") ?? false;
  const parseSpecial = f.boolean("parse_special") ?? true;
  const withPieces = f.boolean("with_pieces") ?? false;
  const ids = served.tokenizer.encode(content, parseSpecial ? { allowedSpecial: "all" } : {});
  if (addSpecial && served.bos !== undefined && ids[0] !== served.bos) ids.unshift(served.bos);
  if (!withPieces) return sendJson(ctx.res, 200, { tokens: ids });
  sendJson(ctx.res, 200, { tokens: ids.map((id) => ({ id, piece: piece(served, id) })) });
}

export function detokenize(ctx: RouteContext): void {
  const f = Fields.of(ctx.body);
  const slot = resolveModel(ctx.models, f.string("model"));
  const list = f.array("tokens");
  if (list === undefined) throw missing("tokens");
  const ids = readIds(slot, list);
  sendJson(ctx.res, 200, { content: slot.served.tokenizer.decode(ids) });
}

function readIds(slot: ModelSlot, list: unknown[]): number[] {
  const vocab = slot.served.tokenizer.vocabSize;
  return list.map((x, i) => {
    if (typeof x !== "number" || !Number.isInteger(x)) throw invalidType(`tokens[${i}]`, "an integer token id", x);
    if (x < 0 || x >= vocab) throw invalidValue(`tokens[${i}]`, `a token id in [0, ${vocab})`, x);
    return x;
  });
}

function piece(served: ModelSlot["served"], id: number): string | number[] {
  const bytes = served.tokenizer.tokenBytes(id);
  const text = decodeUtf8(bytes);
  return text.includes("\uFFFD") ? Array.from(bytes) : text;
}
