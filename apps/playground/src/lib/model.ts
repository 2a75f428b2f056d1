import type { Backend } from "@zero-llm/tensor";
import { fromTokenizerJson, type Tokenizer } from "@zero-llm/tokenizer-bpe";
import { Model, readHf } from "@zero-llm/transformer";
import { fetchBytes, fetchText } from "./fetch";

/**
 * The embedded model (models/default: a 1M-parameter Llama trained on the Brown corpus), loaded
 * in the browser from the files served beside the app: config.json, model.safetensors and
 * tokenizer.json, through the same Hugging Face reader `zllm` uses (`readHf`), into the worker's
 * backend memory. Prompts start with the model's bos, as `zllm generate` starts them.
 */
export interface LoadedModel {
  model: Model;
  tokenizer: Tokenizer;
  bos: number;
  eos: number;
  /** bos + the prompt's tokens. */
  encode(prompt: string): number[];
}

export async function loadEmbeddedModel(backend: Backend): Promise<LoadedModel> {
  const [configText, weights, tokenizerJson] = await Promise.all([
    fetchText("models/default/config.json"), fetchBytes("models/default/model.safetensors"), fetchText("models/default/tokenizer.json"),
  ]);
  const configJson = JSON.parse(configText) as { bos_token_id: number; eos_token_id: number };
  const checkpoint = await readHf(configJson, [weights], { backend });
  const model = new Model(checkpoint.config, checkpoint.weights, { backend });
  const tokenizer = fromTokenizerJson(tokenizerJson);
  const bos = configJson.bos_token_id, eos = configJson.eos_token_id;
  return { model, tokenizer, bos, eos, encode: (prompt) => [bos, ...tokenizer.encode(prompt)] };
}
