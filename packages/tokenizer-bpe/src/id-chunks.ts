import { TokenizerError } from "./errors";

/**
 * Ids in chunks (`Tokenizer.encodeChunks`): an encoder's core appends ids to a small array and
 * yields at points where it may stop (after a piece, a word, a window of a long piece); the
 * driver here passes full chunks on as they fill. The array never holds much more than a chunk,
 * so memory does not grow with the input: 52 M ids of one-token-per-byte text, as a JS array,
 * would be 400 MB and more while it grows.
 */

/** Ids per chunk unless told otherwise: 64 Ki, 256 KB as a Uint32Array. */
export const DEFAULT_CHUNK_IDS = 1 << 16;

/** An encoder's core: appends ids to `out`, yields where it may stop. */
export type EncodeSteps = (out: number[], pauseAt: number) => Iterator<void, void, undefined>;

export function checkedChunkSize(chunkSize: number | undefined): number {
  if (chunkSize === undefined) return DEFAULT_CHUNK_IDS;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", `chunkSize: expected a positive integer number of ids, found ${chunkSize}`);
  }
  return chunkSize;
}

/** Runs `steps` to the end, giving the ids it appends in chunks of `chunkSize` (the last may be shorter; none is empty). */
export function* idChunks(steps: EncodeSteps, chunkSize: number): Generator<Uint32Array, void, undefined> {
  const out: number[] = [];
  const run = steps(out, chunkSize);
  for (let step = run.next(); step.done !== true; step = run.next()) {
    if (out.length >= chunkSize) yield* takeChunks(out, chunkSize, false);
  }
  yield* takeChunks(out, chunkSize, true);
}

/** Yields full chunks from the front of `out` (and, with `all`, the rest too), then removes what it yielded. */
function* takeChunks(out: number[], chunkSize: number, all: boolean): Generator<Uint32Array, void, undefined> {
  let at = 0;
  while (out.length - at >= chunkSize || (all && at < out.length)) {
    const size = Math.min(chunkSize, out.length - at);
    const chunk = new Uint32Array(size);
    for (let k = 0; k < size; k++) chunk[k] = out[at + k];
    yield chunk;
    at += size;
  }
  out.splice(0, at);
}

/** Runs an encoder's core to the end (`encode`, `encodeWithOffsets`: everything at once). */
export function runToEnd(run: Iterator<void, void, undefined>): void {
  while (run.next().done !== true);
}
