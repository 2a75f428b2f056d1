import { jsonSchemaGrammar, type Expr, type Grammar, type JsonSchema } from "@zero-llm/sampling";
import { constraintRefusal } from "../../model/constraints";
import { CALL_STARTS, ENVELOPE } from "../../model/tool-envelope";

/**
 * How a model writes tool calls, and the grammar that makes it write them validly.
 *
 * The envelope (model/tool-envelope.ts) is the Hermes / Qwen one, one line per call, arguments
 * as compact JSON:
 *
 *   <tool_call>{"name": "get_weather", "arguments": {"city":"Paris"}}</tool_call>
 *
 * Several calls follow one another directly. The output of a turn is then, by tool_choice:
 *
 *   required, named:  " "? calls end?           calls ::= call+ (call once without parallel calls)
 *   auto:             text | " "? calls end?    text  ::= any text that does not start like a call
 *
 * `call` is an alternative per allowed function whose `arguments` are that function's parameter
 * schema compiled by @zero-llm/sampling (so every call's arguments validate against it), and
 * `end` is one of the chat template's end-of-turn strings (the default template's "\n"), which
 * ends the output as a stop string. For `auto` the model's own distribution chooses: at the first
 * tokens, the mask allows both a start of the envelope and any other text; once the output starts
 * with `<tool_call>` it can only continue as a valid call. A leading space is allowed because a
 * base model continuing "assistant:" writes one (the default template renders calls after it).
 *
 * Arguments are compact (no whitespace between JSON tokens): a newline in them would end the
 * turn under the default template, and JSON strings never hold a raw newline.
 */

export interface ToolFunction {
  /** ^[a-zA-Z0-9_-]{1,64}$ (OpenAI's rule): written into the envelope as it is. */
  readonly name: string;
  readonly parameters: JsonSchema;
  /** The request field that holds `parameters`, named in the 400 when they cannot be enforced. */
  readonly param: string;
}

export interface ToolGrammarOptions {
  /** auto: text or calls; calls: at least one call. */
  readonly mode: "auto" | "calls";
  /** More than one call in a turn. */
  readonly parallel: boolean;
  /** End-of-turn strings that may follow the calls (the template's stop strings). */
  readonly end: readonly string[];
  /** auto: what the text branch may be (default: any text that does not start like a call). */
  readonly text?: Grammar;
}

/** The grammar of a turn that may (auto) or must (calls) call `functions`. */
export function toolCallGrammar(functions: readonly ToolFunction[], options: ToolGrammarOptions): Grammar {
  const rules = new Map<string, Expr>();
  const calls: Expr[] = [];
  functions.forEach((fn, i) => {
    const prefix = `fn${i}-`;
    let params: Grammar;
    try {
      params = jsonSchemaGrammar(fn.parameters, { whitespace: "none" });
    } catch (e) {
      throw constraintRefusal(e, fn.param);
    }
    embed(rules, params, prefix);
    calls.push(seq(literal(ENVELOPE.beforeName + fn.name + ENVELOPE.afterName), ref(prefix + params.root), literal(ENVELOPE.afterArguments)));
  });
  rules.set("call", alt(calls));
  const turn = seq(
    repeat(literal(" "), 0, 1),
    repeat(ref("call"), 1, options.parallel ? Infinity : 1),
    options.end.length > 0 ? repeat(alt(options.end.map(literal)), 0, 1) : EMPTY,
  );
  rules.set("root", options.mode === "auto" ? alt([ref("text"), turn]) : turn);
  if (options.mode === "auto") {
    if (options.text) {
      embed(rules, options.text, "text-");
      rules.set("text", ref(`text-${options.text.root}`));
    } else {
      rules.set("text", notStartingWith(CALL_STARTS));
    }
  }
  return { rules, root: "root" };
}

/** Copies `grammar`'s rules into `rules` under `prefix` (a sub-grammar inside a larger one). */
function embed(rules: Map<string, Expr>, grammar: Grammar, prefix: string): void {
  for (const [name, body] of grammar.rules) rules.set(prefix + name, renamed(body, prefix));
}

/**
 * Every text that does not start with one of `starts`: the empty text, and for each proper
 * prefix p of a start, p followed by the end or by a character that leads away from every start
 * (then anything). E.g. for ["ab"]: "" | [^a] .* | "a" | "a" [^b] .*
 */
export function notStartingWith(starts: readonly string[]): Expr {
  const prefixes = new Set<string>();
  for (const s of starts) for (let i = 0; i < s.length; i++) prefixes.add(s.slice(0, i));
  const branches: Expr[] = [];
  for (const p of prefixes) {
    // characters that continue p towards some start (all single UTF-16 units here: the starts are ASCII)
    const next = [...new Set(starts.filter((s) => s.startsWith(p) && s.length > p.length).map((s) => s.charCodeAt(p.length)))];
    branches.push(seq(literal(p), alt([EMPTY, seq(chars(complement(next)), repeat(chars(ANY_CHAR), 0, Infinity))])));
  }
  return alt(branches);
}

// ── the grammar's intermediate form (@zero-llm/sampling's Expr), built directly

const EMPTY: Expr = { kind: "empty" };
/** Every Unicode scalar value (the surrogates have no UTF-8 form). */
const ANY_CHAR: readonly number[] = [0, 0xd7ff, 0xe000, 0x10ffff];

function literal(text: string): Expr {
  return text === "" ? EMPTY : { kind: "literal", text };
}
function seq(...items: Expr[]): Expr {
  return { kind: "seq", items };
}
function alt(items: Expr[]): Expr {
  return items.length === 1 ? items[0] : { kind: "alt", items };
}
function repeat(item: Expr, min: number, max: number): Expr {
  return { kind: "repeat", item, min, max };
}
function ref(name: string): Expr {
  return { kind: "ref", name };
}
function chars(ranges: readonly number[]): Expr {
  return { kind: "chars", ranges };
}

/** The scalar values other than `codes` (sorted, disjoint ranges as the grammar wants them). */
function complement(codes: readonly number[]): number[] {
  const out: number[] = [];
  let next = 0;
  for (const c of [...codes].sort((a, b) => a - b)) {
    if (c > next) out.push(next, c - 1);
    next = c + 1;
  }
  out.push(next, 0xd7ff, 0xe000, 0x10ffff);
  return out;
}

/** `e` with every rule reference prefixed (a sub-grammar's rules moved into a larger grammar). */
function renamed(e: Expr, prefix: string): Expr {
  switch (e.kind) {
    case "ref":
      return ref(prefix + e.name);
    case "seq":
    case "alt":
    case "intersect":
      return { kind: e.kind, items: e.items.map((item) => renamed(item, prefix)) };
    case "repeat":
      return { ...e, item: renamed(e.item, prefix) };
    default:
      return e;
  }
}
