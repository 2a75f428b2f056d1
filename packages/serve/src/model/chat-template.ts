import { Template } from "@huggingface/jinja";
import { ServeError } from "../errors";

/**
 * Chat templates: the Jinja program a model ships (GGUF `tokenizer.chat_template`, or
 * `chat_template` in a Hugging Face tokenizer_config.json) that turns a list of messages into the
 * prompt text the model was fine-tuned on. Rendered by @huggingface/jinja, the implementation
 * transformers.js uses, with the variables transformers passes: messages, add_generation_prompt,
 * bos_token, eos_token, tools (raise_exception(message) and strftime_now are @huggingface/jinja built-ins).
 */

/**
 * The default template, for models that ship none (every model this project trains: base models,
 * trained on plain text). A transcript, one line per message, the next line opened for the
 * assistant:
 *
 *   system: You are terse.
 *   user: Where is the jury?
 *   assistant:
 *
 * The assistant's turn ends at the end of its line, so DEFAULT_TEMPLATE_STOP ("\n") is added to
 * the request's stop strings when this template is used (a base model knows no end-of-turn token).
 */
export const DEFAULT_CHAT_TEMPLATE =
  "{% for message in messages %}{{ message.role }}: {{ message.content }}\n{% endfor %}" +
  "{% if add_generation_prompt %}assistant:{% endif %}";

export const DEFAULT_TEMPLATE_STOP: readonly string[] = ["\n"];

export type ChatTemplateOrigin = "gguf" | "tokenizer_config.json" | "chat_template.jinja" | "option" | "default";

/** One message as templates expect it: content is text (OpenAI's content parts are joined first). */
export interface TemplateMessage {
  role: string;
  content: string | null;
  name?: string;
  tool_calls?: unknown[];
  tool_call_id?: string;
}

export class ChatTemplate {
  private readonly template: Template;

  constructor(
    /** The Jinja source. */
    readonly source: string,
    readonly origin: ChatTemplateOrigin,
    /** Text of the model's bos / eos tokens, as templates read them ("" when it has none). */
    private readonly specials: { bos_token: string; eos_token: string },
    /** Stop strings that end an assistant turn in this format (the default template's "\n"). */
    readonly stop: readonly string[] = [],
  ) {
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new ServeError("model_load_failed", `chat template (${origin}): expected a Jinja template, found one that does not parse: ${messageOf(e)}`, { cause: e });
    }
  }

  /** The prompt text for `messages`; a template's raise_exception (or any failure) becomes a 400 naming `messages`. */
  render(messages: readonly TemplateMessage[], options: { addGenerationPrompt: boolean; tools?: readonly unknown[] }): string {
    try {
      return this.template.render({
        messages,
        add_generation_prompt: options.addGenerationPrompt,
        ...(options.tools ? { tools: options.tools } : {}),
        ...this.specials,
      });
    } catch (e) {
      throw new ServeError("invalid_value", `messages: the model's chat template (${this.origin}) refused them: ${messageOf(e)}`, { param: "messages", cause: e });
    }
  }
}


function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
