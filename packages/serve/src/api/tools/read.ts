import type { JsonSchema } from "@zero-llm/sampling";
import { ServeError } from "../../errors";
import { Fields, invalidType, invalidValue, isObject, missing, type JsonObject } from "../fields";
import type { ToolFunction } from "./grammar";

/** OpenAI's rule for function names (they are written into the envelope unescaped). */
const NAME = /^[a-zA-Z0-9_-]{1,64}$/;
/** Tools one request may declare (OpenAI allows 128). */
export const MAX_TOOLS = 128;

/** `tools`, `tool_choice` and `parallel_tool_calls` of a chat request. */
export interface ToolRequest {
  /** The tools as sent (OpenAI's objects): what the chat template renders. */
  readonly tools: JsonObject[];
  /** none: the model may not call (the tools are only shown); auto: it chooses; calls: it must call one of `functions`. */
  readonly mode: "none" | "auto" | "calls";
  /** The functions a call may name (all of them, or the one tool_choice names), with their parameter schemas. */
  readonly functions: readonly (ToolFunction & { readonly param: string })[];
  readonly parallel: boolean;
}

/** Reads the tool fields; undefined when the request declares no tools (tool_choice none/auto alone are accepted). */
export function readTools(f: Fields): ToolRequest | undefined {
  const list = f.array("tools") ?? [];
  if (list.length > MAX_TOOLS) throw invalidValue("tools", `at most ${MAX_TOOLS} tools`, list);
  const functions = list.map((tool, i) => readTool(tool, i));
  const seen = new Set<string>();
  for (const fn of functions) {
    if (seen.has(fn.name)) throw invalidValue("tools", `distinct function names, found '${fn.name}' twice`, list);
    seen.add(fn.name);
  }
  const choice = readChoice(f);
  const parallel = f.boolean("parallel_tool_calls") ?? true;
  if (functions.length === 0) {
    if (choice === "none" || choice === "auto") return undefined;
    throw invalidValue("tool_choice", "'none' or 'auto' when no tools are given", f.raw("tool_choice"));
  }
  const tools = list as JsonObject[];
  if (choice === "none") return { tools, mode: "none", functions: [], parallel };
  if (choice === "auto") return { tools, mode: "auto", functions, parallel };
  if (choice === "required") return { tools, mode: "calls", functions, parallel };
  const named = functions.find((fn) => fn.name === choice.name);
  if (!named) {
    throw invalidValue("tool_choice.function.name", `the name of a function in tools (${functions.map((fn) => `'${fn.name}'`).join(", ")})`, choice.name);
  }
  // a named function is called once, as OpenAI's forced function call
  return { tools, mode: "calls", functions: [named], parallel: false };
}

function readTool(tool: unknown, i: number): ToolFunction & { param: string } {
  const param = `tools[${i}]`;
  if (!isObject(tool)) throw invalidType(param, "a tool object", tool);
  const tf = new Fields(tool, param);
  const type = tf.requiredString("type");
  if (type !== "function") {
    throw new ServeError("unsupported_parameter", `Unsupported parameter: '${param}.type' is '${type}': only 'function' tools are supported.`, { param: `${param}.type` });
  }
  const fn = tf.object("function");
  if (!fn) throw missing(`${param}.function`);
  const name = fn.requiredString("name");
  if (!NAME.test(name)) throw invalidValue(`${param}.function.name`, "a name of 1 to 64 letters, digits, '_' or '-'", name);
  fn.string("description");
  fn.boolean("strict");
  const parameters = fn.raw("parameters");
  if (parameters !== undefined && !isObject(parameters)) throw invalidType(`${param}.function.parameters`, "a JSON Schema object", parameters);
  // no parameters: the function takes none, its arguments are {} (an object schema that declares no
  // properties would allow any members)
  const schema: JsonSchema = parameters ?? { type: "object", properties: {}, additionalProperties: false };
  return { name, parameters: schema, param: `${param}.function.parameters` };
}

function readChoice(f: Fields): "none" | "auto" | "required" | { name: string } {
  const v = f.raw("tool_choice");
  if (v === undefined) return "auto";
  if (typeof v === "string") {
    if (v === "none" || v === "auto" || v === "required") return v;
    throw invalidValue("tool_choice", "'none', 'auto', 'required' or a function to call", v);
  }
  if (!isObject(v)) throw invalidType("tool_choice", "a string or an object", v);
  const cf = new Fields(v, "tool_choice");
  const type = cf.requiredString("type");
  if (type !== "function") {
    throw new ServeError("unsupported_parameter", `Unsupported parameter: 'tool_choice.type' is '${type}': only 'function' is supported.`, { param: "tool_choice.type" });
  }
  const fn = cf.object("function");
  if (!fn) throw missing("tool_choice.function");
  return { name: fn.requiredString("name") };
}
