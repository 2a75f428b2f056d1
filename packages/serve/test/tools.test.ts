import Ajv from "ajv";
import { Rng } from "@zero-llm/tensor";
import { compileConstraint, isTokenAllowed, type Constraint, type TokenVocabulary } from "@zero-llm/sampling";
import { describe, expect, it } from "vitest";
import { TOOL_CALL_STARTS, ToolCallParser, notStartingWith, toolCallGrammar, type ToolEvent, type ToolFunction } from "../src/index";

/**
 * The tool-call grammar and the reader of its envelope, without a model: outputs are random walks
 * through the constraint (each step a uniformly random allowed token), so every branch of the
 * grammar is visited, and every output is checked independently (ajv for arguments).
 */

const utf8 = new TextEncoder();
/** Single bytes plus the multi-byte pieces a BPE vocabulary would have, so tokens cross the envelope's parts. */
const PIECES = ["<tool_call>", "</tool_call>", '{"name": "', '", "arguments": ', "}}", '{"', '":', '","', "get_weather", "city", "Paris", " <", "tool", "_call", "\n", "true", "null"];
const VOCAB: TokenVocabulary = {
  tokens: [null, ...Array.from({ length: 128 }, (_, b) => Uint8Array.of(b)), ...PIECES.map((p) => utf8.encode(p))],
  eos: [0],
};

const WEATHER: ToolFunction = {
  name: "get_weather",
  param: "tools[0].function.parameters",
  parameters: { type: "object", properties: { city: { type: "string", maxLength: 12 }, unit: { enum: ["c", "f"] } }, required: ["city"] },
};
const ADD: ToolFunction = {
  name: "add",
  param: "tools[1].function.parameters",
  parameters: { type: "object", properties: { a: { type: "integer", minimum: -5, maximum: 99 }, b: { type: "number" }, tags: { type: "array", items: { type: "string", maxLength: 3 }, maxItems: 2 } }, required: ["a", "b"] },
};

const tokenOf = (piece: string): number => 129 + PIECES.indexOf(piece);

/** A random walk: a uniformly random allowed token per step until the constraint is complete, EOS is drawn, or `limit` tokens. */
function walk(constraint: Constraint, rng: Rng, limit = 400, first?: number): { text: string; ended: boolean } {
  const state = constraint.initialState();
  const mask = constraint.createMask();
  const bytes: number[] = [];
  for (let step = 0; step < limit; step++) {
    if (constraint.isComplete(state)) return { text: new TextDecoder().decode(Uint8Array.from(bytes)), ended: true };
    constraint.mask(state, mask);
    const allowed = VOCAB.tokens.map((_, id) => id).filter((id) => isTokenAllowed(mask, id));
    // EOS only now and then, so outputs are not all empty
    const pick = allowed.length > 1 && allowed.includes(0) && rng.uniform() < 0.8 ? allowed.filter((id) => id !== 0) : allowed;
    const id = step === 0 && first !== undefined ? first : pick[Math.floor(rng.uniform() * pick.length)];
    constraint.accept(state, id);
    if (id === 0) return { text: new TextDecoder().decode(Uint8Array.from(bytes)), ended: true };
    bytes.push(...(VOCAB.tokens[id] ?? []));
  }
  return { text: new TextDecoder().decode(Uint8Array.from(bytes)), ended: false };
}

/** Feeds `text` to a parser in random pieces; returns the parser and every event. */
function parse(mode: "auto" | "calls", text: string, rng: Rng): { parser: ToolCallParser; events: ToolEvent[] } {
  const parser = new ToolCallParser(mode);
  const events: ToolEvent[] = [];
  for (let at = 0; at < text.length;) {
    const n = 1 + Math.floor(rng.uniform() * 7);
    events.push(...parser.push(text.slice(at, at + n)));
    at += n;
  }
  events.push(...parser.finish());
  return { parser, events };
}

const ajv = new Ajv({ strict: false });
const validators = new Map([WEATHER, ADD].map((fn) => [fn.name, ajv.compile(fn.parameters as object)]));

describe("tool-call grammar × envelope reader", () => {
  it("required (parallel): every finished output is one or more calls whose arguments validate; the events rebuild them", () => {
    const constraint = compileConstraint({ type: "grammar", grammar: toolCallGrammar([WEATHER, ADD], { mode: "calls", parallel: true, end: ["\n"] }) }, VOCAB);
    const rng = new Rng(1);
    let calls = 0;
    for (let run = 0; run < 150; run++) {
      const { text, ended } = walk(constraint, rng);
      if (!ended) continue;
      const { parser, events } = parse("calls", text.replace(/\n$/, ""), rng);
      expect(parser.calls.length).toBeGreaterThan(0);
      expect(parser.content).toBe("");
      for (const call of parser.calls) {
        const args: unknown = JSON.parse(call.arguments);
        const valid = validators.get(call.name);
        expect(valid, call.name).toBeDefined();
        expect(valid?.(args), `${call.name} ${call.arguments}`).toBe(true);
        calls++;
      }
      // the streamed pieces add up to the calls
      const rebuilt = parser.calls.map((_, i) => ({
        name: events.filter((e) => e.kind === "call" && e.index === i).map((e) => (e.kind === "call" ? e.name : ""))[0],
        args: events.filter((e) => e.kind === "arguments" && e.index === i).map((e) => (e.kind === "arguments" ? e.text : "")).join(""),
      }));
      expect(rebuilt).toEqual(parser.calls.map((c) => ({ name: c.name, args: c.arguments })));
    }
    expect(calls).toBeGreaterThan(100);
  });

  it("a named function without parallel calls: exactly one call of it, and the constraint is complete right after", () => {
    const constraint = compileConstraint({ type: "grammar", grammar: toolCallGrammar([ADD], { mode: "calls", parallel: false, end: [] }) }, VOCAB);
    const rng = new Rng(2);
    for (let run = 0; run < 100; run++) {
      const { text, ended } = walk(constraint, rng);
      expect(ended).toBe(true);
      const { parser } = parse("calls", text, rng);
      expect(parser.calls).toHaveLength(1);
      expect(parser.calls[0].name).toBe("add");
      expect(validators.get("add")?.(JSON.parse(parser.calls[0].arguments))).toBe(true);
    }
  });

  it("auto: text that never starts like a call, or calls that validate", () => {
    const constraint = compileConstraint({ type: "grammar", grammar: toolCallGrammar([WEATHER], { mode: "auto", parallel: true, end: ["\n"] }) }, VOCAB);
    const rng = new Rng(3);
    const seen = { text: 0, calls: 0 };
    for (let run = 0; run < 300; run++) {
      // a third of the walks start with the envelope's first token (" <" or "<tool_call>"), the others anywhere
      const r = rng.uniform();
      const first = r < 0.17 ? tokenOf(" <") : r < 0.33 ? tokenOf("<tool_call>") : undefined;
      const { text, ended } = walk(constraint, rng, 200, first);
      if (!ended) continue;
      const { parser } = parse("auto", text, rng);
      if (parser.hasCalls) {
        seen.calls++;
        for (const call of parser.calls) expect(validators.get("get_weather")?.(JSON.parse(call.arguments))).toBe(true);
      } else {
        seen.text++;
        expect(parser.content).toBe(text);
        expect(TOOL_CALL_STARTS.some((s) => text.startsWith(s))).toBe(false);
      }
    }
    expect(seen.text).toBeGreaterThan(10);
    expect(seen.calls).toBeGreaterThan(3);
  });

  it("notStartingWith: exactly the texts without one of the starts in front", () => {
    const starts = ["ab", " ab"];
    const constraint = compileConstraint({ type: "grammar", grammar: { rules: new Map([["root", notStartingWith(starts)]]), root: "root" } }, VOCAB);
    const accepts = (text: string): boolean => {
      const state = constraint.initialState();
      for (const b of utf8.encode(text)) {
        if (!constraint.allows(state, b + 1)) return false;
        constraint.accept(state, b + 1);
      }
      return constraint.canEnd(state);
    };
    for (const text of ["", "a", " ", " a", "b", "ac", " b", "xab", "a b", "  ab"]) expect(accepts(text), JSON.stringify(text)).toBe(true);
    for (const text of ["ab", " ab", "abc", " abx"]) expect(accepts(text), JSON.stringify(text)).toBe(false);
  });

  it("the reader holds back a possible call start, and releases it as content when it is not one", () => {
    const p = new ToolCallParser("auto");
    expect(p.push(" <tool")).toEqual([]);
    expect(p.push("box> hi")).toEqual([{ kind: "content", text: " <toolbox> hi" }]);
    const q = new ToolCallParser("auto");
    expect(q.push("<tool_c")).toEqual([]);
    expect(q.finish()).toEqual([{ kind: "content", text: "<tool_c" }]);
    expect(q.hasCalls).toBe(false);
    // arguments whose strings hold the envelope's closing text are read to the real end
    const r = new ToolCallParser("calls");
    const events = r.push('<tool_call>{"name": "f", "arguments": {"s":"}</tool_call>","n":[1,{"x":"\\""}]}}</tool_call>');
    expect(r.calls).toHaveLength(1);
    expect(r.calls[0].arguments).toBe('{"s":"}</tool_call>","n":[1,{"x":"\\""}]}');
    expect(events[0]).toMatchObject({ kind: "call", index: 0, name: "f" });
  });

  it("a parameter schema that cannot be enforced is refused naming the tool and the keyword", () => {
    const bad: ToolFunction = { name: "f", param: "tools[3].function.parameters", parameters: { type: "object", properties: { x: { not: { type: "string" } } } } };
    expect(() => toolCallGrammar([bad], { mode: "calls", parallel: false, end: [] })).toThrow(
      expect.objectContaining({ status: 400, code: "unsupported_parameter", param: "tools[3].function.parameters", message: expect.stringContaining("'not'") }),
    );
  });
});
