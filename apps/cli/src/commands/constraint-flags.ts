import { ConstraintError, compileConstraint, tokenVocabulary, type Constraint, type ConstraintSpec, type TokenVocabulary } from "@zero-llm/sampling";
import { UsageError, type FlagTable, type FlagValues } from "../command";
import { readFlagText } from "../flag-files";
import type { TextCodec } from "./model-io";

/**
 * `zllm generate`'s constrained decoding: --json-schema FILE | --json-object | --grammar FILE |
 * --regex RE | --choice a,b,c, compiled for the model's vocabulary (@zero-llm/sampling's
 * compileConstraint) before any token is generated. A constraint the compiler refuses (an
 * unsupported or unsatisfiable schema keyword, a GBNF syntax error, a bad regex) is a usage error
 * naming the flag and the keyword.
 */

export const CONSTRAINT_FLAGS = {
  "json-schema": {
    type: "string",
    description: "constrain the output to JSON that validates against the JSON Schema in this file (supported keywords: @zero-llm/sampling README); an unsupported or unsatisfiable schema is a usage error naming the keyword",
  },
  "json-object": { type: "boolean", description: "constrain the output to one JSON object (any members), as OpenAI's response_format json_object" },
  grammar: { type: "string", description: "constrain the output to the GBNF grammar (llama.cpp's format, start rule root) in this file" },
  regex: { type: "string", description: "constrain the output to text the regular expression (ECMAScript syntax, no lookaround) matches entirely" },
  choice: { type: "string", description: "constrain the output to exactly one of these comma-separated strings (\\, for a comma inside one, \\\\ for a backslash)" },
} as const satisfies FlagTable;

export interface ConstraintChoice {
  /** The flag that chose it, for messages: "--json-schema person.json". */
  readonly flag: string;
  readonly spec: ConstraintSpec;
}

/** The constraint the flags ask for (at most one of them), files read; undefined for none. */
export async function constraintFrom(flags: FlagValues<typeof CONSTRAINT_FLAGS>): Promise<ConstraintChoice | undefined> {
  const given = (["json-schema", "json-object", "grammar", "regex", "choice"] as const).filter((name) =>
    name === "json-object" ? flags[name] : flags[name] !== undefined);
  if (given.length > 1) throw new UsageError(`expected at most one constraint flag, found ${given.map((f) => `--${f}`).join(" and ")}`);
  const schemaFile = flags["json-schema"], grammarFile = flags.grammar, pattern = flags.regex, choices = flags.choice;
  if (schemaFile !== undefined) {
    const text = await readFlagText("json-schema", schemaFile, "a JSON Schema file");
    let schema: unknown;
    try {
      schema = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`--json-schema ${schemaFile}: expected JSON, found ${(error as Error).message}`, { cause: error });
    }
    if (typeof schema !== "boolean" && (typeof schema !== "object" || schema === null || Array.isArray(schema))) {
      throw new UsageError(`--json-schema ${schemaFile}: expected a JSON Schema (an object or a boolean), found ${Array.isArray(schema) ? "an array" : JSON.stringify(schema)}`);
    }
    return { flag: `--json-schema ${schemaFile}`, spec: { type: "json", schema: schema as boolean | Record<string, unknown> } };
  }
  if (flags["json-object"]) return { flag: "--json-object", spec: { type: "json", schema: { type: "object", additionalProperties: true } } };
  if (grammarFile !== undefined) {
    return { flag: `--grammar ${grammarFile}`, spec: { type: "gbnf", grammar: await readFlagText("grammar", grammarFile, "a GBNF grammar file") } };
  }
  if (pattern !== undefined) return { flag: `--regex ${JSON.stringify(pattern)}`, spec: { type: "regex", pattern } };
  if (choices !== undefined) return { flag: `--choice ${JSON.stringify(choices)}`, spec: { type: "choice", choices: splitChoices(choices) } };
  return undefined;
}

/** "a,b\,c" → ["a", "b,c"]: commas separate, `\,` is a comma and `\\` a backslash; an empty choice is an error. */
export function splitChoices(raw: string): string[] {
  const out: string[] = [];
  let current = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === "\\" && (raw[i + 1] === "," || raw[i + 1] === "\\")) {
      current += raw[++i];
    } else if (c === ",") {
      out.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  out.push(current);
  const empty = out.findIndex((s) => s === "");
  if (empty >= 0) throw new UsageError(`--choice: expected non-empty comma-separated strings, found an empty choice at position ${empty + 1} in ${JSON.stringify(raw)}`);
  return out;
}

/**
 * The vocabulary a constraint works on: each of the model's token ids with its bytes (special
 * tokens never appear in text) and the codec's EOS ids, which end the output once it is complete.
 * The tokenizer may have more tokens than the model (checked at load); ids past the model's are
 * left out, since the model can never produce them.
 */
export function modelVocabulary(codec: TextCodec, vocabSize: number): TokenVocabulary {
  const vocab = tokenVocabulary(codec.tokenizer, { eos: codec.eos.filter((id) => id < vocabSize) });
  const tokens = vocab.tokens.slice(0, vocabSize);
  while (tokens.length < vocabSize) tokens.push(null);
  return { tokens, eos: vocab.eos };
}

/** Compiles the constraint for the model; what the compiler refuses is a usage error (exit 2) naming the flag and the keyword. */
export function compileFor(choice: ConstraintChoice, codec: TextCodec, vocabSize: number): Constraint {
  try {
    return compileConstraint(choice.spec, modelVocabulary(codec, vocabSize));
  } catch (error) {
    if (!(error instanceof ConstraintError)) throw error;
    const where = error.keyword !== undefined && !error.message.includes(`"${error.keyword}"`) ? ` (keyword "${error.keyword}")` : "";
    throw new UsageError(`${choice.flag}: ${error.message}${where} (${error.code})`, { cause: error });
  }
}
