// The end-to-end cost of a constraint in generate(): decode tokens/s with and without it, the
// same model, sampler settings and seeds, measured in the same run, interleaved output by output.
// (@zero-llm/sampling's bench/constrain.mjs measures the mask alone against llama.cpp's grammar
// sampler; this is what a user of generate() or `zllm generate --json-schema` sees.)
// Models: the embedded model (2,048-token BPE) and a random-weight Llama in the stories15M shape
// with Llama 2's 32,000-token vocabulary (the shared fixtures' llama2.c tokenizer), whose output
// is noise, valid under the constraint.
//   cd packages/transformer && npx tsup && node bench/constrained.mjs [--tokens 2000] [--threads 2]
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Sampler, compileConstraint, tokenVocabulary } from "@zero-llm/sampling";
import { createWasmBackend } from "@zero-llm/tensor";
import { fromLlama2cTokenizer, loadBpeJson } from "@zero-llm/tokenizer-bpe";
import { BENCH_SHAPES, Model, generate, randomWeights } from "../dist/index.js";
import { loadModel } from "../dist/node.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const { values } = parseArgs({ options: { tokens: { type: "string", default: "2000" }, threads: { type: "string", default: "2" } } });
const budget = Number(values.tokens), threads = Number(values.threads);
const backend = await createWasmBackend({ threads });
// llama.cpp's CLI defaults, the chain users sample with
const CHAIN = { topK: 40, topP: 0.95, minP: 0.05, temperature: 0.8 };

const CONSTRAINTS = [
  {
    name: "JSON Schema: a person (6 properties, bounds, enum, date, pattern)",
    spec: {
      type: "json",
      schema: {
        type: "object",
        properties: {
          name: { type: "string", minLength: 1, maxLength: 24 },
          age: { type: "integer", minimum: 0, maximum: 120 },
          role: { enum: ["jury", "judge", "clerk", null] },
          born: { type: "string", format: "date" },
          tags: { type: "array", items: { type: "string", pattern: "^[a-z]{1,8}$" }, maxItems: 4 },
          score: { type: "number", minimum: 0, maximum: 1 },
        },
        required: ["name", "age", "born", "tags"],
        additionalProperties: false,
      },
    },
  },
  { name: "JSON: any value", spec: { type: "json" } },
  { name: "GBNF: arithmetic", spec: { type: "gbnf", grammar: 'root ::= expr "=" ws num\nexpr ::= term ([-+*/] ws term){0,6}\nterm ::= num | "(" ws expr ")" ws\nnum ::= [0-9]{1,4} ws\nws ::= " "?\n' } },
  { name: "regex: a dated log line", spec: { type: "regex", pattern: "\\d{4}-\\d{2}-\\d{2} (INFO|WARN|ERROR) [a-z ,.]{1,60}" } },
  { name: "choice of 3", spec: { type: "choice", choices: ["guilty", "not guilty", "no verdict"] } },
];

const models = [];
{
  const dir = path.join(root, "models/default");
  if (existsSync(path.join(dir, "model.safetensors"))) {
    const tokenizer = loadBpeJson(readFileSync(path.join(dir, "tokenizer.bpe.json"), "utf8"));
    const eos = tokenizer.specialTokens.get("<|endoftext|>");
    models.push({ name: "the embedded model (1.05M, vocabulary 2,048)", model: await loadModel(dir, { backend }), tokenizer, eos, bos: eos });
  }
  const llama2 = path.join(root, "../shared/fixtures/llama2c/llama2-tokenizer.bin");
  if (existsSync(llama2)) {
    const config = BENCH_SHAPES["15M"];
    const model = new Model(config, randomWeights(config, { backend }), { backend });
    models.push({ name: "random-weight stories15M shape (vocabulary 32,000, Llama 2's)", model, tokenizer: fromLlama2cTokenizer(readFileSync(llama2)), eos: 2, bos: 1 });
  } else {
    console.log("(shared fixtures absent: the 32,000-token model is skipped)");
  }
}
console.log(`decode tokens/s with and without a constraint, top-k 40, top-p 0.95, min-p 0.05, temperature 0.8, seeds 1, 2, …; ~${budget} tokens per cell; wasm, ${threads} thread(s); load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);

for (const { name, model, tokenizer, eos, bos } of models) {
  const prompt = [bos, ...tokenizer.encode("The jury said")];
  const V = model.config.vocabSize;
  // one KV cache, emptied before each output: wasm memory is reclaimed only by a garbage
  // collection, which a synchronous loop of generate() calls never leaves room for
  const kv = model.newCache({ capacity: Math.min(model.config.seqLen, prompt.length + 256) });
  const cache = () => {
    kv.reset();
    return kv;
  };
  const vocab = tokenVocabulary(tokenizer, { eos: [eos] });
  vocab.tokens.length = V;
  console.log(`\n${name}`);
  console.log("| constraint | compile | tokens/s without | tokens/s with | with ÷ without | difference per token | the constraint's own time per token |");
  console.log("|---|---:|---:|---:|---:|---:|---:|");
  for (const { name: cname, spec } of CONSTRAINTS) {
    const t0 = performance.now();
    const constraint = compileConstraint(spec, vocab);
    const compileMs = performance.now() - t0;
    // the constraint's own share: time inside mask, accept and isComplete, as generate() calls them
    const own = { ms: 0 };
    for (const method of ["mask", "accept", "isComplete"]) {
      const inner = constraint[method].bind(constraint);
      constraint[method] = (...args) => {
        const t = performance.now();
        try {
          return inner(...args);
        } finally {
          own.ms += performance.now() - t;
        }
      };
    }
    const totals = { free: { tokens: 0, ms: 0 }, constrained: { tokens: 0, ms: 0 } };
    // warm-up: fills the constraint's mask cache for the positions these outputs reach first
    for (let seed = 0; seed < 2; seed++) {
      for (const step of generate(model, prompt, { sampler: new Sampler({ ...CHAIN, seed }), constraint, maxTokens: 256, eos: [eos], cache: cache() })) void step;
    }
    own.ms = 0;
    for (let seed = 1; totals.constrained.tokens < budget; seed++) {
      const c = generate(model, prompt, { sampler: new Sampler({ ...CHAIN, seed }), constraint, maxTokens: 256, eos: [eos], cache: cache() });
      const n = [...c].length;
      totals.constrained.tokens += n;
      totals.constrained.ms += c.stats.generateMs;
      // the same number of tokens without the constraint (the same seed, so a like-for-like sampler)
      const f = generate(model, prompt, { sampler: new Sampler({ ...CHAIN, seed }), maxTokens: Math.max(1, n), cache: cache() });
      totals.free.tokens += [...f].length;
      totals.free.ms += f.stats.generateMs;
    }
    const free = (totals.free.tokens * 1000) / totals.free.ms;
    const constrained = (totals.constrained.tokens * 1000) / totals.constrained.ms;
    const cost = 1000 / constrained - 1000 / free;
    console.log(`| ${cname} | ${compileMs.toFixed(0)} ms | ${free.toFixed(1)} | ${constrained.toFixed(1)} | ${(constrained / free).toFixed(3)} | ${cost.toFixed(3)} ms | ${(own.ms / totals.constrained.tokens).toFixed(3)} ms |`);
  }
}
await backend.dispose();
