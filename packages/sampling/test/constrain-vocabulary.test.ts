import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { compileConstraint, type Constraint, type ConstraintSpec } from "../src/constrain";
import { SCHEMAS } from "./helpers/schemas";
import { testRandom } from "./helpers/constrain";
import { realVocabulary, type RealVocabulary } from "./helpers/vocab";

const ajv = new Ajv2020({ strict: false });
addFormats(ajv);

/**
 * A random-noise "model": with Gaussian-noise logits the draw is a uniformly random allowed token;
 * on top, EOS and tokens that close things (quotes, brackets, commas) get a bonus so that
 * outputs finish within the budget. The constraint's mask decides everything else; noise inside
 * a schema is still valid JSON.
 */
function generate(constraint: Constraint, real: RealVocabulary, seed: number, maxTokens: number): { text: string; finished: boolean; tokens: number; maskMs: number } {
  const random = testRandom(seed);
  const { tokens, eos } = real.vocab;
  const closing = tokens.map((b) => b !== null && b.some((x) => x === 0x22 || x === 0x7d || x === 0x5d || x === 0x2c));
  const state = constraint.initialState();
  const mask = constraint.createMask();
  const out: number[] = [];
  const allowed: number[] = [], closers: number[] = [];
  let maskMs = 0;
  for (let step = 0; step < maxTokens; step++) {
    if (constraint.isComplete(state)) return { text: real.decode(out), finished: true, tokens: step, maskMs };
    const t0 = performance.now();
    const n = constraint.mask(state, mask);
    maskMs += performance.now() - t0;
    if (n === 0) throw new Error(`dead end after ${JSON.stringify(real.decode(out))}`);
    allowed.length = 0;
    closers.length = 0;
    let eosAllowed = false;
    for (let w = 0; w < mask.length; w++) {
      let bits = mask[w];
      while (bits !== 0) {
        const t = (w << 5) | (31 - Math.clz32(bits & -bits));
        bits &= bits - 1;
        if (eos.includes(t)) eosAllowed = true;
        allowed.push(t);
        if (closing[t]) closers.push(t);
      }
    }
    let pick: number;
    if (eosAllowed && random() < 0.5) pick = eos[0];
    else if (closers.length > 0 && random() < 0.3) pick = closers[Math.floor(random() * closers.length)];
    else pick = allowed[Math.floor(random() * allowed.length)];
    if (!constraint.allows(state, pick)) throw new Error(`allows(${pick}) disagrees with the mask`);
    constraint.accept(state, pick);
    if (eos.includes(pick)) return { text: real.decode(out), finished: true, tokens: step + 1, maskMs };
    out.push(pick);
  }
  return { text: real.decode(out), finished: constraint.isComplete(state), tokens: maxTokens, maskMs };
}

describe("constraints on a real 32k vocabulary, random-noise logits", { timeout: 60_000 }, () => {
  const specs: { name: string; spec: ConstraintSpec; check: (text: string) => void }[] = [
    ...SCHEMAS.map(({ name, schema }) => {
      const validate = ajv.compile(schema as object);
      return {
        name: `schema: ${name}`,
        spec: { type: "json", schema } satisfies ConstraintSpec,
        check: (text: string) => {
          if (!validate(JSON.parse(text))) throw new Error(`${text}: ${ajv.errorsText(validate.errors)}`);
        },
      };
    }),
    { name: "any JSON value", spec: { type: "json" }, check: (text) => void JSON.parse(text) },
    { name: "regex", spec: { type: "regex", pattern: "[A-Z][a-z]{2,8}( [A-Z][a-z]{2,8})?, (19|20)\\d\\d" }, check: (text) => expect(text).toMatch(/^[A-Z][a-z]{2,8}( [A-Z][a-z]{2,8})?, (19|20)\d\d$/) },
    { name: "choice", spec: { type: "choice", choices: ["positive", "negative", "neutral", "négatif ✓"] }, check: (text) => expect(["positive", "negative", "neutral", "négatif ✓"]).toContain(text) },
  ];
  for (const { name, spec, check } of specs) {
    it(name, { timeout: 60_000 }, async () => {
      const real = await realVocabulary();
      const constraint = compileConstraint(spec, real.vocab);
      let finished = 0, tokens = 0, maskMs = 0;
      const runs = 12;
      for (let seed = 1; seed <= runs; seed++) {
        const result = generate(constraint, real, seed, 300);
        tokens += result.tokens;
        maskMs += result.maskMs;
        if (!result.finished) continue;
        finished++;
        check(result.text);
      }
      console.log(`${name}: ${finished}/${runs} finished, ${tokens} tokens, mask ${(maskMs / tokens).toFixed(3)} ms/token`);
      expect(finished, `${real.name}: finished ${finished} of ${runs}`).toBeGreaterThanOrEqual(runs / 2);
    });
  }
});
