// @zero-llm/lora/node: adapter directories and files on disk, training runs (Node only).
export {};
