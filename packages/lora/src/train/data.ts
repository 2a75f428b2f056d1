import { Rng } from "@zero-llm/tensor";
import { TokenDataset, fingerprintTokens, stepSeed, type Batch, type DataFingerprint } from "@zero-llm/transformer";
import { LoraError } from "../errors";

/**
 * Fine-tuning data, two kinds:
 *
 * - a text file: one token stream, causal LM loss on every token, cut into windows as
 *   `zllm train` cuts it (transformer's TokenDataset);
 * - JSONL, one example per line, where only the answer counts in the loss:
 *     {"prompt": "Q: 23 + 48 = ? A:", "completion": " 71"}
 *         → [bos] prompt | completion [eos]            loss on completion and eos
 *     {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}
 *         → [bos] "user:" " Hi\n" "assistant:" " Hello.\n"     loss on each assistant " content\n"
 *
 * The chat layout is @zero-llm/serve's default template (a transcript, one "role: content" line
 * per message; generation opens with "assistant:" and stops at the newline), so an adapter
 * trained on chats here answers in the format the server prompts a template-less model with.
 * Each segment is tokenized on its own and the ids joined, so the boundary between what is
 * learned and what is given is exact.
 */

/** What turns text into ids: a tokenizer, and the ids that frame a sequence when it has them. */
export interface TextCodec {
  encode(text: string): number[];
  /** Put in front of every example (and of a text file's stream). */
  readonly bos?: number;
  /** Appended to a completion, so the model learns to stop. */
  readonly eos?: number;
}

/** A run of an example's text and whether its tokens are learned (count in the loss). */
export interface Segment {
  readonly text: string;
  readonly loss: boolean;
}

/** One training example, as segments; `line` is its 1-based line in the file (for messages). */
export interface Example {
  /** A prompt/completion pair (ends with eos) or a chat transcript (its turns end with "\n"). */
  readonly kind: "completion" | "chat";
  readonly segments: readonly Segment[];
  readonly line: number;
}

/** One example as ids: ids[i] is learned (predicted with loss) where learned[i] = 1. */
export interface TokenizedExample {
  readonly ids: Int32Array;
  readonly learned: Uint8Array;
  readonly line: number;
}

/** What the trainer draws batches from (transformer's TokenDataset has the same shape). */
export interface LoraData {
  /** The longest input row of a batch. */
  readonly seqLen: number;
  trainBatch(seed: number, step: number, micro: number, batchSize: number): Batch;
  validationBatches(count: number, batch: number): Batch[];
  /** What the data is, so a resumed run can check it trains on the same. */
  fingerprint(): DataFingerprint;
  /** "1,234 training + 137 validation tokens" / "… examples" for the progress line. */
  describe(): string;
}

const ROLES = new Set(["system", "user", "assistant", "tool"]);

function bad(message: string): never {
  throw new LoraError("BAD_DATA", `data: ${message}`);
}

/** The examples of a JSONL text (blank lines skipped); BAD_DATA names the line and what it lacks. */
export function parseJsonl(text: string): Example[] {
  const examples: Example[] = [];
  const lines = text.split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    if (raw.trim() === "") continue;
    let row: unknown;
    try {
      row = JSON.parse(raw);
    } catch {
      bad(`line ${line}: expected one JSON object per line, found ${JSON.stringify(raw.slice(0, 40))}`);
    }
    if (typeof row !== "object" || row === null || Array.isArray(row)) bad(`line ${line}: expected a JSON object, found ${JSON.stringify(row)}`);
    const o = row as Record<string, unknown>;
    if ("messages" in o) {
      examples.push({ kind: "chat", segments: chatSegments(o.messages, line), line });
    } else if (typeof o.prompt === "string" && typeof o.completion === "string") {
      if (o.completion === "") bad(`line ${line}: expected a non-empty "completion" (the tokens that are learned), found ""`);
      examples.push({ kind: "completion", segments: [{ text: o.prompt, loss: false }, { text: o.completion, loss: true }], line });
    } else {
      bad(`line ${line}: expected {"prompt": string, "completion": string} or {"messages": [...]}, found keys ${JSON.stringify(Object.keys(o))}`);
    }
  }
  if (examples.length === 0) bad("expected at least one JSONL example, found none");
  return examples;
}

/** A chat as transcript segments (serve's default template); only assistant contents are learned. */
function chatSegments(messages: unknown, line: number): Segment[] {
  if (!Array.isArray(messages) || messages.length === 0) bad(`line ${line}: expected "messages" to be a non-empty array, found ${JSON.stringify(messages)}`);
  const segments: Segment[] = [];
  for (const [j, m] of messages.entries()) {
    const { role, content } = (m ?? {}) as { role?: unknown; content?: unknown };
    if (typeof role !== "string" || !ROLES.has(role)) bad(`line ${line}, message ${j}: expected role system, user, assistant or tool, found ${JSON.stringify(role)}`);
    if (typeof content !== "string") bad(`line ${line}, message ${j}: expected "content" to be a string, found ${JSON.stringify(content)}`);
    segments.push({ text: `${role}:`, loss: false }, { text: ` ${content}\n`, loss: role === "assistant" });
  }
  if (!segments.some((s) => s.loss)) bad(`line ${line}: expected at least one assistant message (the text that is learned), found none`);
  return segments;
}

/** [bos] + each segment's ids (+ eos after a prompt/completion pair's completion). */
export function tokenizeExample(example: Example, codec: TextCodec): TokenizedExample {
  const ids: number[] = [];
  const learned: number[] = [];
  if (codec.bos !== undefined) {
    ids.push(codec.bos);
    learned.push(0);
  }
  for (const s of example.segments) {
    for (const id of codec.encode(s.text)) {
      ids.push(id);
      learned.push(s.loss ? 1 : 0);
    }
  }
  if (codec.eos !== undefined && example.kind === "completion") {
    ids.push(codec.eos);
    learned.push(1);
  }
  return { ids: Int32Array.from(ids), learned: Uint8Array.from(learned), line: example.line };
}

/** Marks ignored targets in cross-entropy (PyTorch's ignore_index). */
export const IGNORE = -100;

/**
 * Examples in batches: each row is one example (inputs ids[0..n−2], targets ids[1..n−1], a target
 * kept only where that token is learned), padded after its end with ignored targets to the
 * longest row of the batch; attention is causal, so padding never reaches a real position.
 * A split by example: a seeded shuffle, the last `valFraction` held out.
 */
export class ExampleDataset implements LoraData {
  readonly train: readonly TokenizedExample[];
  readonly val: readonly TokenizedExample[];
  readonly seqLen: number;

  constructor(examples: readonly TokenizedExample[], vocabSize: number, options: { seqLen: number; valFraction?: number; seed?: number }) {
    const { seqLen } = options;
    const valFraction = options.valFraction ?? 0.1;
    for (const ex of examples) {
      if (ex.ids.length - 1 > seqLen) bad(`line ${ex.line}: expected at most ${seqLen + 1} tokens (the model's context + 1), found ${ex.ids.length}`);
      if (ex.ids.length < 2 || !ex.learned.subarray(1).some((v) => v === 1)) bad(`line ${ex.line}: expected at least one learned token after the first, found none`);
      const wrong = ex.ids.findIndex((id) => id < 0 || id >= vocabSize);
      if (wrong >= 0) bad(`line ${ex.line}: expected token ids in [0, ${vocabSize}), found ${ex.ids[wrong]}`);
    }
    if (examples.length < 2) bad(`expected at least 2 examples (one to train on, one held out), found ${examples.length}`);
    const order = examples.map((_, i) => i);
    const g = new Rng(options.seed ?? 1337);
    for (let i = order.length - 1; i > 0; i--) {
      const j = g.int(i + 1);
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    const nVal = Math.min(examples.length - 1, Math.max(1, Math.floor(examples.length * valFraction)));
    const shuffled = order.map((i) => examples[i] as TokenizedExample);
    this.train = shuffled.slice(0, shuffled.length - nVal);
    this.val = shuffled.slice(shuffled.length - nVal);
    this.seqLen = seqLen;
  }

  trainBatch(seed: number, step: number, micro: number, batchSize: number): Batch {
    const g = new Rng(stepSeed(seed, step, micro));
    return rows(Array.from({ length: batchSize }, () => this.train[g.int(this.train.length)] as TokenizedExample));
  }

  /** The first `count` held-out examples, always the same, in batches of `batch`. */
  validationBatches(count: number, batch: number): Batch[] {
    const chosen = this.val.slice(0, count);
    const out: Batch[] = [];
    for (let i = 0; i < chosen.length; i += batch) out.push(rows(chosen.slice(i, i + batch)));
    return out;
  }

  fingerprint(): DataFingerprint {
    const flat = (list: readonly TokenizedExample[]): Int32Array => {
      const all: number[] = [];
      for (const ex of list) for (const [i, id] of ex.ids.entries()) all.push(ex.learned[i] ? id : -1 - id);
      return Int32Array.from(all);
    };
    return fingerprintTokens(flat(this.train), flat(this.val));
  }

  describe(): string {
    const learned = (list: readonly TokenizedExample[]): number => list.reduce((n, ex) => n + ex.learned.reduce((a, b) => a + b, 0), 0);
    return `${this.train.length.toLocaleString("en")} training + ${this.val.length.toLocaleString("en")} validation examples (${learned(this.train).toLocaleString("en")} learned tokens in training)`;
  }
}

/** One batch of examples, padded to its longest. */
function rows(examples: readonly TokenizedExample[]): Batch {
  const seqLen = Math.max(...examples.map((ex) => ex.ids.length - 1));
  const batch = examples.length;
  const inputs = new Int32Array(batch * seqLen);
  const targets = new Int32Array(batch * seqLen).fill(IGNORE);
  examples.forEach((ex, b) => {
    const n = ex.ids.length - 1;
    inputs.set(ex.ids.subarray(0, n), b * seqLen);
    for (let t = 0; t < n; t++) if (ex.learned[t + 1]) targets[b * seqLen + t] = ex.ids[t + 1] as number;
  });
  return { inputs, targets, batch, seqLen };
}

/** A text file's token stream as LoraData: TokenDataset's windows, loss on every token. */
export function textData(tokens: ArrayLike<number>, vocabSize: number, options: { seqLen: number; valFraction?: number }): LoraData {
  const ds = new TokenDataset(tokens, vocabSize, options);
  return {
    seqLen: ds.seqLen,
    trainBatch: (seed, step, micro, batchSize) => ds.trainBatch(seed, step, micro, batchSize),
    validationBatches: (count, batch) => ds.validationBatches(count, batch),
    fingerprint: () => fingerprintTokens(ds.train, ds.val),
    describe: () => `${ds.train.length.toLocaleString("en")} training + ${ds.val.length.toLocaleString("en")} validation tokens`,
  };
}
