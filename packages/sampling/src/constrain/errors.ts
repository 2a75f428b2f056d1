/**
 * Stable codes of {@link ConstraintError}. Compile-time problems (a grammar, regex or schema that
 * cannot be used) are raised by `compileConstraint` before any token is generated; the last three
 * are raised while decoding.
 */
export type ConstraintErrorCode =
  /** GBNF text that does not parse (the message has line and column). */
  | "CONSTRAINT_GRAMMAR_SYNTAX"
  /** A GBNF rule used but never defined, or a missing root rule. */
  | "CONSTRAINT_UNDEFINED_RULE"
  /** A rule that can call itself before reading a byte (`expr ::= expr "+" term`): a parser would loop forever. */
  | "CONSTRAINT_LEFT_RECURSION"
  /** A regular expression that does not parse. */
  | "CONSTRAINT_REGEX_SYNTAX"
  /** A JSON Schema that is not valid JSON Schema (a keyword with a value of the wrong kind, a `$ref` that points nowhere). */
  | "CONSTRAINT_BAD_SCHEMA"
  /** A feature we do not compile (a schema keyword, a regex lookaround, a string format); `keyword` names it. */
  | "CONSTRAINT_UNSUPPORTED"
  /** No string at all satisfies the constraint (`minItems` above `maxItems`, an empty `enum`, …); `keyword` names the cause. */
  | "CONSTRAINT_UNSATISFIABLE"
  /** The compiled automaton would exceed the size limits (states, repetition counts). */
  | "CONSTRAINT_TOO_LARGE"
  /** An option of compileConstraint outside its range. */
  | "CONSTRAINT_BAD_OPTION"
  /** A vocabulary that cannot be used (no tokens, an EOS id out of range). */
  | "CONSTRAINT_BAD_VOCABULARY"
  /** `accept` was given a token the mask did not allow. */
  | "CONSTRAINT_TOKEN_REJECTED"
  /** A state used with a constraint it does not belong to, or rolled back further than its history. */
  | "CONSTRAINT_BAD_STATE";

/** The error class of constrained decoding in @zero-llm/sampling: a stable `code`, expected vs found in the message. */
export class ConstraintError extends Error {
  override readonly name = "ConstraintError";
  /** The schema keyword, regex feature or grammar rule at fault, when there is one. */
  readonly keyword: string | undefined;
  /** JSON pointer of the schema location (`/properties/age/minimum`), when the constraint is a schema. */
  readonly path: string | undefined;

  constructor(
    readonly code: ConstraintErrorCode,
    message: string,
    options: { keyword?: string; path?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.keyword = options.keyword;
    this.path = options.path;
  }
}
