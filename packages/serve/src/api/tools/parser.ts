import { randomBytes } from "node:crypto";
import { CALL_STARTS, ENVELOPE } from "../../model/tool-envelope";

/** What the output of a turn turned out to hold, piece by piece as it streams. */
export type ToolEvent =
  | { readonly kind: "content"; readonly text: string }
  /** A call begins: its id and function name are known (OpenAI's first tool_calls delta of a call). */
  | { readonly kind: "call"; readonly index: number; readonly id: string; readonly name: string }
  /** More of call `index`'s arguments (JSON text). */
  | { readonly kind: "arguments"; readonly index: number; readonly text: string };

export interface ToolCall {
  readonly id: string;
  readonly name: string;
  /** The arguments as JSON text (OpenAI sends them as a string). */
  arguments: string;
}

/** A tool call id, as OpenAI's: "call_" and 24 random characters. */
export function toolCallId(): string {
  return `call_${randomBytes(18).toString("base64url").slice(0, 24)}`;
}

/**
 * Reads the output of a turn as it streams (the text the stop strings released, in order) and
 * splits it into content and tool calls in the envelope (model/tool-envelope.ts):
 *
 *   undecided ──a call's start──▶ calls: ( open → name → head → arguments → close )+
 *       └────other text────▶ text (everything is content)
 *
 * The grammar guarantees the envelope, so the reader only follows it: literal parts are matched
 * character by character, the name runs to its closing quote, and the arguments run until the
 * JSON object closes (depth back to 0, counted outside strings and escapes), then `}</tool_call>`.
 * Arguments go out as they come; text that might still be a call's start is held back. A
 * character the envelope does not allow (no constraint enforced it) ends call parsing: the rest
 * is content.
 */
export class ToolCallParser {
  readonly calls: ToolCall[] = [];
  content = "";
  private mode: "undecided" | "text" | "calls";
  private held = "";
  /** Inside calls: which part of the envelope comes next, and how far into a literal part. */
  private part: "open" | "name" | "head" | "arguments" | "close" = "open";
  private literalAt = 0;
  private name = "";
  private depth = 0;
  private inString = false;
  private escaped = false;
  private leading = true;

  /** `auto`: text or calls, decided by how the output starts; `calls`: the output is calls. */
  constructor(mode: "auto" | "calls") {
    this.mode = mode === "auto" ? "undecided" : "calls";
  }

  /** The turn holds calls (finish_reason "tool_calls"). */
  get hasCalls(): boolean {
    return this.calls.length > 0;
  }

  push(text: string): ToolEvent[] {
    const events: ToolEvent[] = [];
    if (this.mode === "undecided") {
      this.held += text;
      if (CALL_STARTS.some((s) => this.held.startsWith(s))) {
        this.mode = "calls";
        text = this.held;
        this.held = "";
      } else if (CALL_STARTS.some((s) => s.startsWith(this.held))) {
        return events; // still possibly a call's start
      } else {
        this.mode = "text";
        text = this.held;
        this.held = "";
      }
    }
    if (this.mode === "text") {
      this.emitContent(text, events);
      return events;
    }
    this.readCalls(text, events);
    return events;
  }

  /** The output ended: text held back as a possible call start is content after all. */
  finish(): ToolEvent[] {
    const events: ToolEvent[] = [];
    if (this.mode === "undecided" && this.held !== "") this.emitContent(this.held, events);
    this.held = "";
    return events;
  }

  private emitContent(text: string, events: ToolEvent[]): void {
    if (text === "") return;
    this.content += text;
    events.push({ kind: "content", text });
  }

  private readCalls(text: string, events: ToolEvent[]): void {
    let argsFrom = -1; // start in `text` of the arguments read in this push
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (this.leading) {
        this.leading = false;
        if (ch === " ") continue; // the one space a call may start with
      }
      switch (this.part) {
        case "open":
        case "head":
        case "close": {
          const expected = this.part === "open" ? ENVELOPE.beforeName : this.part === "head" ? ENVELOPE.afterName : ENVELOPE.afterArguments;
          if (ch !== expected[this.literalAt]) {
            this.broken(text.slice(i), events);
            return;
          }
          if (++this.literalAt < expected.length) break;
          this.literalAt = 0;
          this.part = this.part === "open" ? "name" : this.part === "head" ? "arguments" : "open";
          break;
        }
        case "name": {
          if (ch !== ENVELOPE.afterName[0]) {
            this.name += ch; // names are [a-zA-Z0-9_-]: no quote inside
            break;
          }
          const call = { id: toolCallId(), name: this.name, arguments: "" };
          this.calls.push(call);
          events.push({ kind: "call", index: this.calls.length - 1, id: call.id, name: call.name });
          this.name = "";
          this.part = "head";
          this.literalAt = 1; // the quote that ended the name was the head's first character
          break;
        }
        case "arguments":
          if (argsFrom < 0) argsFrom = i;
          if (this.step(ch)) {
            this.flushArguments(text.slice(argsFrom, i + 1), events);
            argsFrom = -1;
            this.part = "close";
          }
          break;
      }
    }
    if (argsFrom >= 0) this.flushArguments(text.slice(argsFrom), events);
  }

  /** One character of the arguments' JSON; true when it closes the top-level value. */
  private step(ch: string): boolean {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (ch === "\\") this.escaped = true;
      else if (ch === '"') this.inString = false;
      return false;
    }
    if (ch === '"') this.inString = true;
    else if (ch === "{" || ch === "[") this.depth++;
    else if (ch === "}" || ch === "]") return --this.depth === 0;
    return false;
  }

  private flushArguments(text: string, events: ToolEvent[]): void {
    if (text === "") return;
    const index = this.calls.length - 1;
    this.calls[index].arguments += text;
    events.push({ kind: "arguments", index, text });
  }

  private broken(rest: string, events: ToolEvent[]): void {
    this.mode = "text";
    this.emitContent(rest, events);
  }
}
