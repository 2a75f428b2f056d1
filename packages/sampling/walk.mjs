import { readFileSync } from "node:fs";
import { fromGgufMetadata } from "@zero-llm/tokenizer-bpe";
import { GgufFile } from "/work/grammar/packages/tensor/dist/index.js";
import { compileConstraint, tokenVocabulary } from "/work/grammar/packages/sampling/dist/index.js";
const gguf = GgufFile.parse(readFileSync("/work/shared/fixtures/ggml-vocab/ggml-vocab-llama-spm.gguf"));
const tok = fromGgufMetadata(Object.fromEntries([...gguf.metadata].map(([k, v]) => [k, v.value])));
const vocab = tokenVocabulary(tok);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
let t = cpu(); compileConstraint({ type: "choice", choices: ["a"] }, vocab); console.log("trie build (first compile) ms cpu", (cpu() - t).toFixed(1));
const c = compileConstraint({ type: "json", schema: { type: "string" } }, vocab);
const st = c.initialState(); c.accept(st, vocab.tokens.findIndex((b) => b !== null && b.length === 1 && b[0] === 0x22)); // inside the string
const node = c.parser.configNodes[st.config][0]; const state = c.parser.stateOf(node);
const m = c.masker;
for (let r = 0; r < 8; r++) { m.entries.clear(); t = cpu(); for (let i = 0; i < 20; i++) m.precompute(state); console.log("precompute ms (cpu)", ((cpu() - t) / 20).toFixed(3), "trie nodes", m.trie.nodeCount); }
const mask = c.createMask();
t = cpu(); for (let i = 0; i < 2000; i++) c.mask(st, mask); console.log("mask warm us", ((cpu() - t) / 2000 * 1000).toFixed(1));
