import { jsonSchemaGrammar, type Constraint, type JsonSchema } from "@zero-llm/sampling";
import { constraintRefusal, type ConstraintCache } from "../model/constraints";
import type { ServedModel } from "../model/load";
import { invalidType, invalidValue, missing, type Fields } from "./fields";
import { toolCallGrammar } from "./tools/grammar";
import type { ToolRequest } from "./tools/read";

/**
 * What shape the output must take, and how it is enforced: `response_format` (JSON, a JSON
 * Schema) and tool calls become one constraint compiled by @zero-llm/sampling, whose token mask
 * the chooser applies before sampling, so the output cannot leave it. Nothing is silently
 * ignored: what cannot be enforced is a 400 naming the field and the keyword.
 */
export interface OutputPlan {
  /** The constraint every choice decodes under (undefined: free text). */
  readonly constraint: Constraint | undefined;
  /** Read the output as tool calls: "auto" (text or calls), "calls" (only calls), or not at all. */
  readonly toolCalls: "auto" | "calls" | undefined;
  /**
   * The chat template's end-of-turn stop strings apply (the default template's "\n"). Not for a
   * JSON response_format: the grammar knows where the JSON ends (nothing may follow its closing
   * bracket), and its whitespace may hold newlines.
   */
  readonly templateStops: boolean;
}

const FREE: OutputPlan = { constraint: undefined, toolCalls: undefined, templateStops: true };

/** OpenAI's json_object: any JSON object. */
const ANY_OBJECT: JsonSchema = { type: "object", additionalProperties: true };
/** response_format names, as OpenAI's: ^[a-zA-Z0-9_-]{1,64}$. */
const FORMAT_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

interface JsonFormat {
  readonly schema: JsonSchema;
  /** The field the schema came from (for errors). */
  readonly param: string;
}

/** response_format: undefined for text; the JSON Schema the output must validate against otherwise. */
export function readResponseFormat(f: Fields): JsonFormat | undefined {
  const format = f.object("response_format");
  if (!format) return undefined;
  const type = format.choice("type", ["text", "json_object", "json_schema"]);
  if (type === undefined) throw missing("response_format.type");
  if (type === "text") return undefined;
  if (type === "json_object") return { schema: ANY_OBJECT, param: "response_format" };
  const js = format.object("json_schema");
  if (!js) throw missing("response_format.json_schema");
  const name = js.requiredString("name");
  if (!FORMAT_NAME.test(name)) throw invalidValue("response_format.json_schema.name", "a name of 1 to 64 letters, digits, '_' or '-'", name);
  js.string("description");
  // strict or not, the output is decoded under the schema: it always validates
  js.boolean("strict");
  const schema = js.raw("schema");
  if (schema === undefined) return { schema: ANY_OBJECT, param: "response_format.json_schema" };
  if (schema === null || (typeof schema !== "boolean" && (typeof schema !== "object" || Array.isArray(schema)))) {
    throw invalidType("response_format.json_schema.schema", "a JSON Schema (an object)", schema);
  }
  return { schema, param: "response_format.json_schema.schema" };
}

/**
 * The plan for a request: a JSON format alone; tool calls (required or named: only calls; auto:
 * calls or text, the text itself JSON when a format is given too); or free text.
 */
export function planOutput(served: ServedModel, constraints: ConstraintCache, format: JsonFormat | undefined, tools: ToolRequest | undefined): OutputPlan {
  if (tools && tools.mode !== "none") {
    const end = served.chatTemplate.stop;
    const mode = tools.mode;
    // with calls only, a format has nothing left to shape
    const text = mode === "auto" && format ? format : undefined;
    const key = JSON.stringify({ tools: tools.functions.map((fn) => [fn.name, fn.parameters]), mode, parallel: tools.parallel, end, text: text?.schema });
    const constraint = constraints.get(key, () => ({
      type: "grammar",
      grammar: toolCallGrammar(tools.functions, { mode, parallel: tools.parallel, end, ...(text ? { text: jsonGrammar(text, "none") } : {}) }),
    }), "tools");
    return { constraint, toolCalls: mode, templateStops: true };
  }
  if (format) {
    const constraint = constraints.get(JSON.stringify({ format: format.schema }), () => ({ type: "json", schema: format.schema }), format.param);
    return { constraint, toolCalls: undefined, templateStops: false };
  }
  return FREE;
}

function jsonGrammar(format: JsonFormat, whitespace: "none" | "bounded"): ReturnType<typeof jsonSchemaGrammar> {
  try {
    return jsonSchemaGrammar(format.schema, { whitespace });
  } catch (e) {
    throw constraintRefusal(e, format.param);
  }
}
