/**
 * How a tool call is written in a model's output (and in the default chat template's history):
 * the Hermes / Qwen envelope, one call after the other on one line, arguments as JSON:
 *
 *   <tool_call>{"name": "get_weather", "arguments": {"city":"Paris"}}</tool_call>
 *
 * One definition for the three places that must agree: the grammar that constrains calls
 * (api/tools/grammar.ts), the reader that takes them apart (api/tools/parser.ts) and the default
 * template that renders earlier calls (chat-template.ts).
 */
export const CALL_OPEN = "<tool_call>";
export const CALL_CLOSE = "</tool_call>";

/** The envelope of one call, in three literal parts around the function's name and its arguments. */
export const ENVELOPE = {
  beforeName: `${CALL_OPEN}{"name": "`,
  afterName: '", "arguments": ',
  afterArguments: `}${CALL_CLOSE}`,
} as const;

/** What a turn of calls may start with: the envelope, after at most one space (a base model continuing "assistant:" writes one). */
export const CALL_STARTS: readonly string[] = [CALL_OPEN, ` ${CALL_OPEN}`];
