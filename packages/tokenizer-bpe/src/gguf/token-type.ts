/**
 * llama.cpp's token types (`llama_token_type`), as GGUF stores them in tokenizer.ggml.token_type
 * (i32, one per token). The one table of them in the workspace: the readers and writers here use
 * it, and so does @zero-llm/transformer through them.
 */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;
