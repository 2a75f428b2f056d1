import type { Automaton } from "./automaton";
import { DEAD_CONFIG, END, KIND_DEAD, KIND_UNCERTAIN, type Parser } from "./parser";
import type { VocabularyTrie } from "./vocabulary";

/**
 * Token masks, the XGrammar / llguidance way: most of the answer does not depend on the stack.
 *
 * For a parked stack whose top state is s, walk the vocabulary trie from s alone, with the
 * caller unknown. Each token then falls in one of three groups:
 *   accepted   its bytes are read inside s's rule (or in rules it calls): allowed whatever the
 *              stack below is;
 *   rejected   its bytes die inside the rule, or leave the rule with a byte that nothing can
 *              read after it (follow set): never allowed;
 *   uncertain  it leaves the rule and keeps going: only the real stack can tell.
 * The first two are cached per position (an accepted-bitset and the uncertain ids), computed the
 * first time a position is reached; at run time only the uncertain tokens are checked, each by
 * stepping the real stack through its bytes with memoised transitions.
 *
 * Positions are keyed by `keyOf[s]`: states that no token (at most `horizon` bytes) can tell apart
 * share one entry (equivalence.ts); tokens longer than the horizon are always checked at run time.
 */
export interface PositionMask {
  /** Bit t set: token t allowed from this position whatever the stack. */
  readonly accepted: Uint32Array;
  /** Tokens to check against the real stack. */
  readonly uncertain: Int32Array;
}

export class TokenMasker {
  private readonly entries = new Map<number, PositionMask>();
  private readonly configAtDepth: Int32Array;
  /** Byte class of the edge into each trie node, for this grammar. */
  private readonly nodeClass: Uint8Array;
  readonly words: number;
  /** Positions computed so far (for statistics). */
  precomputed = 0;

  constructor(
    private readonly automaton: Automaton,
    /** Stacks of the precomputation walks (unknown callers), kept apart from the outputs' own. */
    private readonly walker: Parser,
    private readonly trie: VocabularyTrie,
    private readonly keyOf: Int32Array,
    private readonly horizon: number,
  ) {
    this.words = (trie.vocabSize + 31) >>> 5;
    this.configAtDepth = new Int32Array(trie.maxTokenLength + 1);
    this.nodeClass = new Uint8Array(trie.nodeCount);
    for (let i = 1; i < trie.nodeCount; i++) this.nodeClass[i] = automaton.classOf[trie.byte[i]];
  }

  get cachedPositions(): number {
    return this.entries.size;
  }

  /**
   * Writes the mask of configuration `config` of the output's own `parser` into `out` (bit t of
   * word t >> 5); returns how many tokens are allowed.
   */
  fill(parser: Parser, config: number, out: Uint32Array): number {
    out.fill(0, 0, this.words);
    let canEnd = false;
    for (const node of parser.configNodes[config]) {
      if (node === END) {
        canEnd = true;
        continue;
      }
      const entry = this.entry(parser.stateOf(node));
      const accepted = entry.accepted;
      for (let w = 0; w < accepted.length; w++) out[w] |= accepted[w];
      const uncertain = entry.uncertain;
      for (let k = 0; k < uncertain.length; k++) {
        const t = uncertain[k];
        if ((out[t >>> 5] & (1 << (t & 31))) === 0 && this.allows(parser, node, t)) out[t >>> 5] |= 1 << (t & 31);
      }
    }
    if (canEnd) for (const t of this.trie.eos) out[t >>> 5] |= 1 << (t & 31);
    let count = 0;
    for (let w = 0; w < this.words; w++) count += popcount(out[w]);
    return count;
  }

  /** Whether parked node `node` (a real stack of `parser`) can read all of token t's bytes. */
  allows(parser: Parser, node: number, t: number): boolean {
    const { tokenBytes, tokenOffset } = this.trie;
    const classOf = this.automaton.classOf;
    let config = parser.singleton(node);
    for (let i = tokenOffset[t], end = tokenOffset[t + 1]; i < end; i++) {
      config = parser.step(config, classOf[tokenBytes[i]]);
      if (config === DEAD_CONFIG) return false;
    }
    return true;
  }

  entry(state: number): PositionMask {
    const key = this.keyOf[state];
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = this.precompute(state);
      this.entries.set(key, entry);
      this.precomputed++;
    }
    return entry;
  }

  /** One preorder walk of the trie from state s with an unknown caller. */
  private precompute(state: number): PositionMask {
    const { depth, end, tokenStart, tokenIds, nodeCount } = this.trie;
    const nodeClass = this.nodeClass;
    const parser = this.walker;
    const nexts = parser.configNext;
    let kinds = parser.configKind;
    const accepted = new Uint32Array(this.words);
    const uncertain: number[] = [];
    const horizon = this.horizon;
    const atDepth = this.configAtDepth;
    atDepth[0] = parser.singleton(parser.precomputeNode(state));
    let i = 1;
    while (i < nodeCount) {
      const d = depth[i];
      if (d > horizon) {
        // beyond what the position key vouches for: the whole subtree is checked at run time
        for (let k = tokenStart[i], last = tokenStart[end[i]]; k < last; k++) uncertain.push(tokenIds[k]);
        i = end[i];
        continue;
      }
      // the memoised step, inlined: this loop runs once per trie node
      const from = atDepth[d - 1];
      const row = nexts[from];
      let config = row === undefined ? -1 : row[nodeClass[i]];
      if (config < 0) {
        config = parser.step(from, nodeClass[i]);
        kinds = parser.configKind; // may have been reallocated
      }
      const kind = kinds[config];
      if (kind === KIND_DEAD) {
        i = end[i];
        continue;
      }
      if (kind === KIND_UNCERTAIN) {
        for (let k = tokenStart[i], last = tokenStart[end[i]]; k < last; k++) uncertain.push(tokenIds[k]);
        i = end[i];
        continue;
      }
      for (let k = tokenStart[i], last = tokenStart[i + 1]; k < last; k++) {
        const t = tokenIds[k];
        accepted[t >>> 5] |= 1 << (t & 31);
      }
      atDepth[d] = config;
      i++;
    }
    return { accepted, uncertain: Int32Array.from(uncertain) };
  }
}

export function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}
