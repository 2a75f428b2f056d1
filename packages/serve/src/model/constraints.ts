import { ConstraintError, compileConstraint, tokenVocabulary, type Constraint, type ConstraintSpec, type TokenVocabulary } from "@zero-llm/sampling";
import { ServeError } from "../errors";
import type { ServedModel } from "./load";

/**
 * Compiled constraints (response_format schemas, tool-call grammars) of one model, kept for
 * reuse: compiling a schema costs milliseconds to a second, and the compiled form also carries
 * a mask cache that makes every later output on it cheaper (see @zero-llm/sampling's
 * constrained decoding), so requests that repeat a schema (every call of one application does)
 * compile it once. Least recently used entries go first past `capacity`.
 *
 * The vocabulary is the model's: one entry per row of the logits (ids past the tokenizer's last
 * and special tokens never appear in text), its end-of-generation ids as the constraint's EOS.
 */
export class ConstraintCache {
  private readonly entries = new Map<string, Constraint>();
  private vocabulary: TokenVocabulary | undefined;

  constructor(private readonly served: ServedModel, readonly capacity = 32) {}

  /** Constraints held now. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The constraint `key` stands for (the JSON of what the request asked), built by `spec` and
   * compiled on first use; `param` names the request field it came from, for the 400 when it
   * cannot be enforced.
   */
  get(key: string, spec: () => ConstraintSpec, param: string): Constraint {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key); // re-inserted last: most recently used
      this.entries.set(key, hit);
      return hit;
    }
    const built = spec();
    let constraint: Constraint;
    try {
      constraint = compileConstraint(built, this.vocab());
    } catch (e) {
      throw constraintRefusal(e, param);
    }
    this.entries.set(key, constraint);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    return constraint;
  }

  private vocab(): TokenVocabulary {
    if (!this.vocabulary) {
      const { tokenizer, model, endOfGeneration } = this.served;
      const ofTokenizer = tokenVocabulary(tokenizer, { eos: endOfGeneration });
      const tokens = Array.from({ length: model.config.vocabSize }, (_, id) => ofTokenizer.tokens[id] ?? null);
      this.vocabulary = { tokens, eos: endOfGeneration.filter((id) => id < tokens.length) };
    }
    return this.vocabulary;
  }
}

/**
 * A constraint that cannot be compiled is the request's fault: a 400 whose message names the
 * keyword (and where in the schema it sits) and whose `param` names the field, never a silently
 * unconstrained output.
 */
export function constraintRefusal(e: unknown, param: string): ServeError {
  if (!(e instanceof ConstraintError)) {
    return new ServeError("internal_error", `compiling '${param}' failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const where = e.path === undefined ? "" : ` at ${e.path === "" ? "the schema's root" : e.path}`;
  const keyword = e.keyword ? `'${e.keyword}'` : "a feature";
  switch (e.code) {
    case "CONSTRAINT_UNSUPPORTED":
      return new ServeError(
        "unsupported_parameter",
        `Unsupported parameter: '${param}' uses ${keyword}${where}, which constrained decoding cannot enforce (${e.message}). Remove it or express it with supported keywords.`,
        { param, cause: e },
      );
    case "CONSTRAINT_UNSATISFIABLE":
      return new ServeError("invalid_value", `Invalid value for '${param}': expected a schema some output can satisfy, found none does because of ${keyword}${where} (${e.message}).`, { param, cause: e });
    case "CONSTRAINT_TOO_LARGE":
      return new ServeError("invalid_value", `Invalid value for '${param}': expected a schema within the compiler's size limits, found one larger (${e.message}).`, { param, cause: e });
    default:
      return new ServeError("invalid_value", `Invalid value for '${param}': expected a valid JSON Schema, found an invalid ${keyword}${where} (${e.message}).`, { param, cause: e });
  }
}
