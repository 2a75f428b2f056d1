import { Value } from "@zero-llm/autograd";
import { PlaygroundError } from "./errors";

/**
 * Arithmetic text → a graph of scalar Values, so a reader can type `tanh(w*x + b)` and see the
 * graph the engine builds. Every occurrence of a name is the same leaf Value (a name used twice
 * gets the sum of both paths' gradients: the `+=` of the chain rule).
 *
 *   expr    := term (("+" | "-") term)*
 *   term    := unary (("*" | "/") unary)*
 *   unary   := "-" unary | power
 *   power   := primary ("^" ["-"] number)?        (the engine's pow takes a constant exponent)
 *   primary := number | name | func "(" expr ")" | "(" expr ")"
 */
export const FUNCTIONS = ["tanh", "exp", "log", "relu", "sigmoid", "gelu"] as const;
type Func = (typeof FUNCTIONS)[number];

export interface Expression {
  root: Value;
  /** The named inputs (leaves), in order of first appearance. */
  inputs: Map<string, Value>;
}

interface Token { kind: "num" | "name" | "op"; text: string; at: number }

function lex(text: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|([-+*/^()]))/y;
  let at = 0;
  while (at < text.length) {
    if (/^\s*$/.test(text.slice(at))) break;
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) {
      const pos = at + (text.slice(at).length - text.slice(at).trimStart().length);
      throw new PlaygroundError("EXPRESSION_SYNTAX", `expression: expected a number, a name or one of + - * / ^ ( ) at character ${pos + 1}, found ${JSON.stringify(text[pos])}`);
    }
    const start = re.lastIndex - m[0].trimStart().length;
    if (m[1] !== undefined) tokens.push({ kind: "num", text: m[1], at: start });
    else if (m[2] !== undefined) tokens.push({ kind: "name", text: m[2], at: start });
    else tokens.push({ kind: "op", text: m[3], at: start });
    at = re.lastIndex;
  }
  return tokens;
}

/**
 * Parses `text`; names take their values from `values` (a missing one is an error that lists the
 * names given). Constants become unnamed leaves.
 */
export function parseExpression(text: string, values: Readonly<Record<string, number>>): Expression {
  const tokens = lex(text);
  let i = 0;
  const inputs = new Map<string, Value>();
  const peek = (): Token | undefined => tokens[i];
  const describe = (t: Token | undefined) => (t ? `${JSON.stringify(t.text)} at character ${t.at + 1}` : "the end of the expression");
  const expect = (op: string): void => {
    const t = tokens[i];
    if (t?.kind !== "op" || t.text !== op) throw new PlaygroundError("EXPRESSION_SYNTAX", `expression: expected "${op}", found ${describe(t)}`);
    i++;
  };

  const expr = (): Value => {
    let left = term();
    for (let t = peek(); t?.kind === "op" && (t.text === "+" || t.text === "-"); t = peek()) {
      i++;
      const right = term();
      left = t.text === "+" ? left.add(right) : left.sub(right);
    }
    return left;
  };
  const term = (): Value => {
    let left = unary();
    for (let t = peek(); t?.kind === "op" && (t.text === "*" || t.text === "/"); t = peek()) {
      i++;
      const right = unary();
      left = t.text === "*" ? left.mul(right) : left.div(right);
    }
    return left;
  };
  const unary = (): Value => {
    const t = peek();
    if (t?.kind === "op" && t.text === "-") {
      i++;
      return unary().neg();
    }
    return power();
  };
  const power = (): Value => {
    const base = primary();
    const t = peek();
    if (t?.kind !== "op" || t.text !== "^") return base;
    i++;
    let sign = 1;
    if (peek()?.kind === "op" && peek()?.text === "-") {
      sign = -1;
      i++;
    }
    const n = peek();
    if (n?.kind !== "num") throw new PlaygroundError("EXPRESSION_SYNTAX", `expression: expected a constant exponent after "^", found ${describe(n)}`);
    i++;
    return base.pow(sign * Number(n.text));
  };
  const primary = (): Value => {
    const t = peek();
    if (!t) throw new PlaygroundError("EXPRESSION_SYNTAX", "expression: expected a number, a name or \"(\", found the end of the expression");
    if (t.kind === "num") {
      i++;
      return new Value(Number(t.text), t.text);
    }
    if (t.kind === "op" && t.text === "(") {
      i++;
      const inner = expr();
      expect(")");
      return inner;
    }
    if (t.kind === "name") {
      i++;
      if ((FUNCTIONS as readonly string[]).includes(t.text) && peek()?.text === "(") {
        i++;
        const arg = expr();
        expect(")");
        return applyFunction(t.text as Func, arg);
      }
      const existing = inputs.get(t.text);
      if (existing) return existing;
      const v = values[t.text];
      if (v === undefined) {
        const known = Object.keys(values);
        throw new PlaygroundError(
          "EXPRESSION_UNKNOWN_NAME",
          `expression: expected a value for ${JSON.stringify(t.text)} (character ${t.at + 1}); the inputs given are ${known.length ? known.join(", ") : "none"}${(FUNCTIONS as readonly string[]).includes(t.text) ? `, and ${t.text} as a function needs "("` : ""}`,
        );
      }
      const leaf = new Value(v, t.text);
      inputs.set(t.text, leaf);
      return leaf;
    }
    throw new PlaygroundError("EXPRESSION_SYNTAX", `expression: expected a number, a name or "(", found ${describe(t)}`);
  };

  const root = expr();
  if (i < tokens.length) throw new PlaygroundError("EXPRESSION_SYNTAX", `expression: expected an operator or the end, found ${describe(tokens[i])}`);
  return { root, inputs };
}

function applyFunction(name: Func, x: Value): Value {
  switch (name) {
    case "tanh": return x.tanh();
    case "exp": return x.exp();
    case "log": return x.log();
    case "relu": return x.relu();
    case "sigmoid": return x.sigmoid();
    case "gelu": return x.gelu();
  }
}

/** The names an expression reads (for building its input boxes), in order, functions excluded. */
export function expressionNames(text: string): string[] {
  const names: string[] = [];
  const tokens = lex(text);
  tokens.forEach((t, k) => {
    if (t.kind !== "name") return;
    if ((FUNCTIONS as readonly string[]).includes(t.text) && tokens[k + 1]?.text === "(") return;
    if (!names.includes(t.text)) names.push(t.text);
  });
  return names;
}

/**
 * The gradient as a sensitivity: evaluate f at x and at x + h for one input, and compare the
 * measured slope (f(x + h) − f(x)) / h with df/dx from backward(). They agree to O(h).
 */
export function nudge(text: string, values: Readonly<Record<string, number>>, name: string, h: number): { f: number; fNudged: number; slope: number; grad: number } {
  const base = parseExpression(text, values);
  base.root.backward();
  const grad = base.inputs.get(name)?.grad;
  if (grad === undefined) throw new PlaygroundError("BAD_INPUT", `nudge: expected one of the expression's inputs (${[...base.inputs.keys()].join(", ")}), found ${JSON.stringify(name)}`);
  const moved = parseExpression(text, { ...values, [name]: values[name] + h });
  return { f: base.root.data, fNudged: moved.root.data, slope: (moved.root.data - base.root.data) / h, grad };
}
