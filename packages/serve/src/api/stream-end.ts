import type { ServeError } from "../errors";
import type { HttpResponse } from "../http/exchange";
import { sendError, type SseStream } from "../http/respond";

/**
 * The end of a streamed reply, the same for chat and text completions: an error before any byte
 * went out is an ordinary error response (no stream was started), after that an error event;
 * otherwise the usage chunk when the client asked for one (stream_options.include_usage). Then
 * [DONE], except after the ordinary error response.
 */
export function endStream(res: HttpResponse, sse: SseStream, error: ServeError | undefined, usageChunk: (() => unknown) | null): void {
  if (error) {
    if (!res.headersSent) return sendError(res, error);
    sse.send(error.toJSON());
  } else if (usageChunk !== null) {
    sse.send(usageChunk());
  }
  sse.done();
}
