import { fromTiktoken, type BpeTokenizer, type JsTiktokenRanks, type TiktokenEncodingName } from "../../src";

/** Our tokenizer for a built-in encoding, from js-tiktoken's bundled rank data (devDependency). */
const cache = new Map<string, BpeTokenizer>();

export async function loadEncoding(name: TiktokenEncodingName): Promise<BpeTokenizer> {
  let tok = cache.get(name);
  if (tok === undefined) {
    const file = name === "gpt2" ? "gpt2" : name;
    const mod = (await import(`js-tiktoken/ranks/${file}`)) as { default: JsTiktokenRanks };
    tok = fromTiktoken({ ranks: mod.default, encoding: name });
    cache.set(name, tok);
  }
  return tok;
}
