import { DEFAULT_AUTOMATON_LIMITS, compileGrammar, type Automaton, type AutomatonLimits } from "./automaton";
import { ConstraintError } from "./errors";
import { alt, literal, type Grammar } from "./grammar";
import { parseGbnf } from "./gbnf";
import { jsonSchemaGrammar, type JsonGrammarOptions, type JsonSchema } from "./json-schema";
import { regexToExpr } from "./regex";
import { maskKeys } from "./equivalence";
import { TokenMasker } from "./mask";
import { DEAD_CONFIG, Parser } from "./parser";
import { vocabularyTrie, type TokenVocabulary, type VocabularyTrie } from "./vocabulary";

/**
 * Positions are told apart by tokens of up to this many bytes (equivalence.ts); longer tokens
 * (a few dozen in a 32k vocabulary) are checked against the stack at every step instead.
 */
const MASK_HORIZON = 16;

/** What to constrain the output to. */
export type ConstraintSpec =
  /** JSON: any value, or the values that validate against `schema` (see jsonSchemaGrammar). */
  | { readonly type: "json"; readonly schema?: JsonSchema; readonly whitespace?: JsonGrammarOptions["whitespace"] }
  /** Text matching a regular expression entirely (ECMAScript syntax; see regexToExpr). */
  | { readonly type: "regex"; readonly pattern: string }
  /** A GBNF grammar (llama.cpp's format); `root` names the start rule (default "root"). */
  | { readonly type: "gbnf"; readonly grammar: string; readonly root?: string }
  /** One of these strings, exactly. */
  | { readonly type: "choice"; readonly choices: readonly string[] }
  /** A grammar already in the intermediate form (see grammar.ts). */
  | { readonly type: "grammar"; readonly grammar: Grammar };

export interface ConstraintOptions {
  /** Size limits of the compiled automaton. */
  readonly limits?: Partial<AutomatonLimits>;
  /**
   * New outputs share one table of parser stacks (so what one output learnt, the next reuses)
   * until it holds this many stacks; then the next output starts a new one, and the old one goes
   * away with the outputs that use it. Default 100,000 (a few MB).
   */
  readonly maxSharedStacks?: number;
}

/**
 * Where one output stands in a constraint: create with `constraint.initialState()`. It holds a
 * configuration of a parser whose tables (the stacks seen so far) it shares with its clones and
 * with other outputs started while those tables were small (see maxSharedStacks), so memory
 * stays bounded on a long-running server that keeps one compiled constraint.
 */
export class ConstraintState {
  /** @internal */ config: number;
  /** @internal configurations before each accepted token, for rollback */
  readonly history: number[] = [];
  /** @internal EOS was accepted */
  ended = false;

  /** @internal */
  constructor(readonly owner: Constraint, readonly parser: Parser, config: number) {
    this.config = config;
  }

  /** Tokens accepted since the start (EOS included). */
  get length(): number {
    return this.history.length;
  }
}

/**
 * A compiled constraint over one vocabulary. Per decoding step:
 *
 *   const n = constraint.mask(state, bits);   // bit i of bits[i >> 5]: token i allowed
 *   …set disallowed logits to −∞, sample token…
 *   constraint.accept(state, token);
 *   if (constraint.isComplete(state)) stop;  // stop reason "grammar"
 *
 * Compiled grammars and their mask caches are shared by all states, so beams and speculative
 * branches are cheap: `clone`, `rollback`, `reset`.
 */
export class Constraint {
  readonly grammar: Grammar;
  readonly vocabSize: number;
  /** Words of a token mask: ceil(vocabSize / 32). */
  readonly maskWords: number;
  /** @internal */ readonly automaton: Automaton;
  /** @internal */ readonly masker: TokenMasker;
  private readonly trie: VocabularyTrie;
  private readonly isEos: Uint8Array;
  private readonly maxSharedStacks: number;
  private shared: Parser;

  constructor(grammar: Grammar, vocab: TokenVocabulary, options: ConstraintOptions = {}) {
    this.grammar = grammar;
    this.trie = vocabularyTrie(vocab);
    this.vocabSize = this.trie.vocabSize;
    this.maskWords = (this.vocabSize + 31) >>> 5;
    const limits = { ...DEFAULT_AUTOMATON_LIMITS, ...options.limits };
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isInteger(value) || value < 1) throw new ConstraintError("CONSTRAINT_BAD_OPTION", `limits.${name}: expected a positive integer, found ${value}`);
    }
    this.automaton = compileGrammar(grammar, limits);
    const horizon = Math.min(this.trie.maxTokenLength, MASK_HORIZON);
    this.masker = new TokenMasker(this.automaton, new Parser(this.automaton), this.trie, maskKeys(this.automaton, horizon), horizon);
    this.maxSharedStacks = options.maxSharedStacks ?? 100_000;
    if (!Number.isInteger(this.maxSharedStacks) || this.maxSharedStacks < 0) {
      throw new ConstraintError("CONSTRAINT_BAD_OPTION", `maxSharedStacks: expected an integer ≥ 0, found ${options.maxSharedStacks}`);
    }
    this.shared = new Parser(this.automaton);
    this.isEos = new Uint8Array(this.vocabSize);
    for (const t of this.trie.eos) this.isEos[t] = 1;
  }

  /** A state at the start of the output. */
  initialState(): ConstraintState {
    if (this.shared.nodes > this.maxSharedStacks) this.shared = new Parser(this.automaton);
    return new ConstraintState(this, this.shared, this.shared.initial());
  }

  /** A fresh token mask buffer. */
  createMask(): Uint32Array {
    return new Uint32Array(this.maskWords);
  }

  /**
   * Writes the allowed tokens of `state` into `out` (at least `maskWords` words): bit i of
   * out[i >> 5] is set when token i may come next. EOS ids are allowed when the constraint can
   * end here. Returns the number of allowed tokens (0 after EOS).
   */
  mask(state: ConstraintState, out: Uint32Array): number {
    this.own(state);
    if (out.length < this.maskWords) {
      throw new ConstraintError("CONSTRAINT_BAD_STATE", `mask: expected a Uint32Array of at least ${this.maskWords} words (vocabulary ${this.vocabSize}), found ${out.length}`);
    }
    if (state.ended) {
      out.fill(0, 0, this.maskWords);
      return 0;
    }
    return this.masker.fill(state.parser, state.config, out);
  }

  /** Whether `token` may come next (the same answer as the mask's bit, without computing all of it). */
  allows(state: ConstraintState, token: number): boolean {
    this.own(state);
    this.checkToken(token);
    if (state.ended) return false;
    if (this.isEos[token]) return state.parser.canEnd(state.config);
    return this.advance(state.parser, state.config, token) !== DEAD_CONFIG;
  }

  /** Moves `state` past `token`; throws CONSTRAINT_TOKEN_REJECTED if the mask does not allow it. */
  accept(state: ConstraintState, token: number): void {
    this.own(state);
    this.checkToken(token);
    if (state.ended) throw new ConstraintError("CONSTRAINT_TOKEN_REJECTED", `accept: token ${token} after EOS; the output has ended`);
    if (this.isEos[token]) {
      if (!state.parser.canEnd(state.config)) {
        throw new ConstraintError("CONSTRAINT_TOKEN_REJECTED", `accept: EOS token ${token} before the constraint is satisfied`);
      }
      state.history.push(state.config);
      state.ended = true;
      return;
    }
    const next = this.advance(state.parser, state.config, token);
    if (next === DEAD_CONFIG) throw new ConstraintError("CONSTRAINT_TOKEN_REJECTED", `accept: token ${token} (${describeBytes(this.tokenBytes(token))}) is not allowed here`);
    state.history.push(state.config);
    state.config = next;
  }

  /**
   * Whether the output is finished: the constraint can end and nothing else may follow (or EOS
   * was accepted). Generation stops here with stop reason "grammar".
   */
  isComplete(state: ConstraintState): boolean {
    this.own(state);
    if (state.ended) return true;
    const nodes = state.parser.configNodes[state.config];
    return nodes.length === 1 && state.parser.canEnd(state.config);
  }

  /** Whether EOS is allowed now (the text so far is a complete match). */
  canEnd(state: ConstraintState): boolean {
    this.own(state);
    return !state.ended && state.parser.canEnd(state.config);
  }

  /** An independent copy of `state` (for a beam or a speculative branch). */
  clone(state: ConstraintState): ConstraintState {
    this.own(state);
    const copy = new ConstraintState(this, state.parser, state.config);
    copy.history.push(...state.history);
    copy.ended = state.ended;
    return copy;
  }

  /** Undoes the last `tokens` accepted tokens (rejected draft tokens in speculative decoding). */
  rollback(state: ConstraintState, tokens: number): void {
    this.own(state);
    if (!Number.isInteger(tokens) || tokens < 0 || tokens > state.history.length) {
      throw new ConstraintError("CONSTRAINT_BAD_STATE", `rollback: expected 0..${state.history.length} tokens (the state's history), found ${tokens}`);
    }
    if (tokens === 0) return;
    state.config = state.history[state.history.length - tokens];
    state.history.length -= tokens;
    state.ended = false;
  }

  /** Back to the start of the output. */
  reset(state: ConstraintState): void {
    this.own(state);
    state.config = state.parser.initial();
    state.history.length = 0;
    state.ended = false;
  }

  /**
   * Sizes, for diagnostics and benchmarks: of the compiled automaton and its mask cache, and,
   * given a state, of that output's parser tables (stacks and sets of stacks seen so far).
   */
  stats(state?: ConstraintState): { states: number; rules: number; byteClasses: number; cachedPositions: number; stacks: number; configurations: number } {
    return {
      states: this.automaton.nStates,
      rules: this.automaton.ruleNames.length,
      byteClasses: this.automaton.nClasses,
      cachedPositions: this.masker.cachedPositions,
      stacks: state?.parser.nodes ?? 0,
      configurations: state?.parser.configs ?? 0,
    };
  }

  private advance(parser: Parser, config: number, token: number): number {
    const { tokenBytes, tokenOffset } = this.trie;
    const start = tokenOffset[token], end = tokenOffset[token + 1];
    if (end === start) return DEAD_CONFIG; // control tokens and tokens without text are never allowed
    const classOf = this.automaton.classOf;
    let c = config;
    for (let i = start; i < end && c !== DEAD_CONFIG; i++) c = parser.step(c, classOf[tokenBytes[i]]);
    return c;
  }

  private tokenBytes(token: number): Uint8Array {
    return this.trie.tokenBytes.subarray(this.trie.tokenOffset[token], this.trie.tokenOffset[token + 1]);
  }

  private checkToken(token: number): void {
    if (!Number.isInteger(token) || token < 0 || token >= this.vocabSize) {
      throw new ConstraintError("CONSTRAINT_TOKEN_REJECTED", `token: expected an id in 0..${this.vocabSize - 1}, found ${token}`);
    }
  }

  private own(state: ConstraintState): void {
    if (state.owner !== this) throw new ConstraintError("CONSTRAINT_BAD_STATE", "state: expected a state created by this constraint's initialState() or clone(), found one of another constraint");
  }
}

/** Compiles a constraint for one vocabulary. Errors in the spec are thrown here, before any generation. */
export function compileConstraint(spec: ConstraintSpec, vocab: TokenVocabulary, options: ConstraintOptions = {}): Constraint {
  return new Constraint(constraintGrammar(spec), vocab, options);
}

/** The grammar a spec compiles to (print it with `formatGbnf`). */
export function constraintGrammar(spec: ConstraintSpec): Grammar {
  switch (spec.type) {
    case "json":
      return jsonSchemaGrammar(spec.schema ?? true, spec.whitespace === undefined ? {} : { whitespace: spec.whitespace });
    case "regex":
      if (typeof spec.pattern !== "string") throw new ConstraintError("CONSTRAINT_REGEX_SYNTAX", `regex: expected a string, found ${typeof spec.pattern}`, { keyword: "regex" });
      return { rules: new Map([["root", regexToExpr(spec.pattern)]]), root: "root" };
    case "gbnf":
      return parseGbnf(spec.grammar, spec.root === undefined ? {} : { root: spec.root });
    case "choice":
      return choiceGrammar(spec.choices);
    case "grammar":
      return spec.grammar;
    default: {
      const type = (spec as { type?: unknown }).type;
      throw new ConstraintError("CONSTRAINT_UNSUPPORTED", `constraint: expected type "json", "regex", "gbnf", "choice" or "grammar", found ${JSON.stringify(type) ?? String(type)}`, { keyword: "type" });
    }
  }
}

function choiceGrammar(choices: readonly string[]): Grammar {
  if (!Array.isArray(choices) || choices.length === 0) {
    throw new ConstraintError("CONSTRAINT_UNSATISFIABLE", `choice: expected at least one choice, found ${Array.isArray(choices) ? "none" : typeof choices}`, { keyword: "choice" });
  }
  for (const c of choices) {
    if (typeof c !== "string" || c.length === 0 || /\p{Cs}/u.test(c)) {
      throw new ConstraintError("CONSTRAINT_BAD_SCHEMA", `choice: expected non-empty strings of valid Unicode, found ${JSON.stringify(c)}`, { keyword: "choice" });
    }
  }
  return { rules: new Map([["root", alt(...choices.map(literal))]]), root: "root" };
}

function describeBytes(bytes: Uint8Array): string {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  return JSON.stringify(text);
}
