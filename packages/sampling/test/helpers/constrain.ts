import type { Constraint, ConstraintState } from "../../src/constrain/constraint";
import type { Grammar } from "../../src/constrain/grammar";
import type { TokenVocabulary } from "../../src/constrain/vocabulary";
import { ReferenceMatcher, type ReferenceState } from "./reference-matcher";

/** A small seeded generator for tests (mulberry32), independent of the package's Rng. */
export function testRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const utf8 = new TextEncoder();

/**
 * A small vocabulary: EOS (id 0), every single byte (so any text is reachable, and lone bytes of
 * multi-byte characters exist), then the given pieces and, for each piece with a non-ASCII
 * character, its UTF-8 split at every byte (tokens that end or start inside a character).
 */
export function smallVocabulary(pieces: readonly string[]): TokenVocabulary {
  const seen = new Set<string>();
  const tokens: (Uint8Array | null)[] = [null];
  const add = (bytes: Uint8Array): void => {
    const key = bytes.join(",");
    if (bytes.length === 0 || seen.has(key)) return;
    seen.add(key);
    tokens.push(bytes);
  };
  for (let b = 0; b < 256; b++) add(Uint8Array.of(b));
  for (const p of pieces) {
    const bytes = utf8.encode(p);
    add(bytes);
    for (let k = 1; k < bytes.length; k++) {
      if ((bytes[k] & 0xc0) === 0x80) {
        add(bytes.slice(0, k));
        add(bytes.slice(k));
      }
    }
  }
  return { tokens, eos: [0] };
}

function isSet(mask: Uint32Array, t: number): boolean {
  return (mask[t >>> 5] & (1 << (t & 31))) !== 0;
}

export interface WalkReport {
  steps: number;
  complete: boolean;
  text: Uint8Array;
}

/**
 * Random walk through the constraint: at every step the engine's mask must equal the brute-force
 * mask (every token fed to the reference recogniser), isComplete and canEnd must agree too; then
 * a random allowed token is taken (EOS with probability pEos when allowed).
 */
export function checkWalk(grammar: Grammar, constraint: Constraint, vocab: TokenVocabulary, seed: number, maxSteps: number, pEos = 0.15): WalkReport {
  const random = testRandom(seed);
  const reference = new ReferenceMatcher(grammar);
  let ref: ReferenceState = reference.start();
  const state: ConstraintState = constraint.initialState();
  const mask = constraint.createMask();
  const text: number[] = [];
  for (let step = 0; step < maxSteps; step++) {
    const count = constraint.mask(state, mask);
    const allowed: number[] = [];
    const eosAllowed = reference.complete(ref);
    for (let t = 0; t < vocab.tokens.length; t++) {
      const bytes = vocab.tokens[t];
      let expected: boolean;
      if (vocab.eos.includes(t)) expected = eosAllowed;
      else if (bytes === null || bytes.length === 0) expected = false;
      else expected = reference.feed(ref, bytes) !== null;
      if (isSet(mask, t) !== expected) {
        const shown = bytes === null ? "EOS/special" : JSON.stringify(new TextDecoder().decode(bytes)) + ` [${[...bytes].map((b) => b.toString(16)).join(" ")}]`;
        throw new Error(`step ${step} after ${JSON.stringify(new TextDecoder().decode(Uint8Array.from(text)))}: token ${t} ${shown} engine ${isSet(mask, t)} reference ${expected}`);
      }
      if (expected) allowed.push(t);
      if (expected !== constraint.allows(state, t)) throw new Error(`step ${step}: allows(${t}) disagrees with the mask`);
    }
    if (count !== allowed.length) throw new Error(`step ${step}: mask count ${count}, expected ${allowed.length}`);
    let anyByte = false;
    for (let b = 0; b < 256 && !anyByte; b++) anyByte = reference.feed(ref, [b]) !== null;
    if (constraint.canEnd(state) !== eosAllowed) throw new Error(`step ${step}: canEnd ${constraint.canEnd(state)}, reference ${eosAllowed}`);
    if (constraint.isComplete(state) !== (eosAllowed && !anyByte)) throw new Error(`step ${step}: isComplete ${constraint.isComplete(state)}, reference ${eosAllowed && !anyByte}`);
    if (allowed.length === 0) throw new Error(`step ${step}: nothing allowed`);
    if (constraint.isComplete(state)) return { steps: step, complete: true, text: Uint8Array.from(text) };
    const texts = allowed.filter((t) => !vocab.eos.includes(t));
    if (eosAllowed && (texts.length === 0 || random() < pEos)) {
      constraint.accept(state, vocab.eos[0]);
      return { steps: step + 1, complete: true, text: Uint8Array.from(text) };
    }
    const t = texts[Math.floor(random() * texts.length)];
    constraint.accept(state, t);
    const bytes = vocab.tokens[t] ?? new Uint8Array(0);
    text.push(...bytes);
    const next = reference.feed(ref, bytes);
    if (next === null) throw new Error("reference rejected an allowed token");
    ref = next;
  }
  return { steps: maxSteps, complete: false, text: Uint8Array.from(text) };
}

/** EOS (id 0) and one token per byte (id b + 1): accepting a text token by token is reading its bytes. */
export function byteVocabulary(): TokenVocabulary {
  const tokens: (Uint8Array | null)[] = [null];
  for (let b = 0; b < 256; b++) tokens.push(Uint8Array.of(b));
  return { tokens, eos: [0] };
}

/** Whether `constraint` (over byteVocabulary()) accepts exactly this text. */
export function fullMatch(constraint: Constraint, text: string | Uint8Array): boolean {
  const state = constraint.initialState();
  for (const b of typeof text === "string" ? utf8.encode(text) : text) {
    if (!constraint.allows(state, b + 1)) return false;
    constraint.accept(state, b + 1);
  }
  return constraint.canEnd(state);
}

/** A random text of the constraint's language (over byteVocabulary()), or null if none ended within maxBytes. */
export function sampleText(constraint: Constraint, seed: number, maxBytes = 40, pEnd = 0.3): string | null {
  const random = testRandom(seed);
  const state = constraint.initialState();
  const mask = constraint.createMask();
  const out: number[] = [];
  for (let i = 0; i <= maxBytes; i++) {
    if (constraint.isComplete(state) || (constraint.canEnd(state) && random() < pEnd)) return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(out));
    constraint.mask(state, mask);
    const allowed: number[] = [];
    for (let t = 1; t <= 256; t++) if (isSet(mask, t)) allowed.push(t);
    if (allowed.length === 0) return null;
    const t = allowed[Math.floor(random() * allowed.length)];
    constraint.accept(state, t);
    out.push(t - 1);
  }
  return null;
}
