import { PlaygroundError } from "./errors";

/**
 * Server-sent events as the OpenAI API streams them: `data: {json}` events separated by a blank
 * line, closed by `data: [DONE]`. Bytes arrive in arbitrary pieces (a chunk may end inside an
 * event, or inside a UTF-8 character), so this keeps the unfinished tail between reads.
 */
export class SseParser {
  private buffer = "";
  private readonly decoder = new TextDecoder();
  done = false;

  /** Feeds bytes; returns the JSON payloads of the events completed by them. */
  push(bytes: Uint8Array): unknown[] {
    this.buffer += this.decoder.decode(bytes, { stream: true });
    const events: unknown[] = [];
    for (let end = this.buffer.indexOf("\n\n"); end >= 0; end = this.buffer.indexOf("\n\n")) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (data === "") continue;
      if (data === "[DONE]") {
        this.done = true;
        continue;
      }
      try {
        events.push(JSON.parse(data));
      } catch (error) {
        throw new PlaygroundError("SERVER_ERROR", `stream: expected a JSON event, found ${JSON.stringify(data.slice(0, 80))}`, { cause: error });
      }
    }
    return events;
  }
}

export interface TopLogprob { token: string; logprob: number; bytes: number[] | null }
export interface TokenLogprob extends TopLogprob { top_logprobs: TopLogprob[] }

export interface ChatChunk {
  choices: Array<{ index: number; delta: { role?: string; content?: string }; logprobs: { content: TokenLogprob[] } | null; finish_reason: string | null }>;
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  error?: { message: string; code?: string };
}
