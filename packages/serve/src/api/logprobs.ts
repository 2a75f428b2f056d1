import { decodeUtf8, type Tokenizer } from "@zero-llm/tokenizer-bpe";
import type { Json } from "./fields";
import type { TokenLogprob } from "./sampling";

/**
 * Logprobs in the two shapes OpenAI returns them. A token's `token` is its text (a token that
 * holds part of a UTF-8 character shows U+FFFD there; `bytes` has its exact bytes).
 */

function tokenString(tokenizer: Tokenizer, id: number): { token: string; bytes: number[] } {
  const bytes = tokenizer.tokenBytes(id);
  return { token: decodeUtf8(bytes), bytes: Array.from(bytes) };
}

/** Chat: `{ token, logprob, bytes, top_logprobs: [{ token, logprob, bytes }] }`. */
export function tokenJson(tokenizer: Tokenizer, t: TokenLogprob): Json {
  return {
    ...tokenString(tokenizer, t.id),
    logprob: t.logprob,
    top_logprobs: t.top.map((alt) => ({ ...tokenString(tokenizer, alt.id), logprob: alt.logprob })),
  };
}

/**
 * Completions (legacy): parallel lists `tokens`, `token_logprobs`, `top_logprobs` (one
 * `{token: logprob}` object per position) and `text_offset` (where each token's text starts in
 * the returned text, counting `offset` characters before it: the echoed prompt).
 */
export function completionLogprobs(tokenizer: Tokenizer, list: readonly TokenLogprob[], offset: number): Json {
  const tokens: string[] = [];
  const tokenLogprobs: number[] = [];
  const top: Record<string, number>[] = [];
  const textOffset: number[] = [];
  let at = offset;
  for (const t of list) {
    const { token } = tokenString(tokenizer, t.id);
    tokens.push(token);
    tokenLogprobs.push(t.logprob);
    const alts: Record<string, number> = {};
    for (const alt of t.top) {
      const text = tokenString(tokenizer, alt.id).token;
      if (!(text in alts)) alts[text] = alt.logprob;
    }
    top.push(alts);
    textOffset.push(at);
    at += token.length;
  }
  return { tokens, token_logprobs: tokenLogprobs, top_logprobs: top, text_offset: textOffset };
}
