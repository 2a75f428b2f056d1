import { classOf, PUNCTUATION, SPACE } from "./char-class";
import { TokenizerError } from "./errors";
import { concatTokenBytes, displayBytes } from "./token-spans";
import { SpanEncoder, SpecialMatcher, splitAtSpecials, type Emit } from "./special-split";
import { allowedSet, type EncodeOptions, type Tokenizer } from "./types";
import { decodeUtf8, encodeUtf8 } from "./utf8";

/**
 * WordPiece, the BERT family (GGUF `tokenizer.ggml.model = "bert"`): Hugging Face's
 * BertNormalizer + BertPreTokenizer + WordPiece model, which llama.cpp's `llm_tokenizer_wpm`
 * follows.
 *
 * 1. Clean: drop NUL, U+FFFD and control characters (category C, except tab / CR / LF, which
 *    count as whitespace); any whitespace becomes a space.
 * 2. Put spaces around each CJK ideograph, so each is a word.
 * 3. Strip accents (NFD, then drop nonspacing marks, Mn) and lower-case, for uncased models.
 * 4. Split into words at whitespace; each punctuation character (Unicode P, or any ASCII
 *    punctuation or symbol) is a word of its own.
 * 5. Each word, greedily: the longest vocabulary piece from the start, then the longest
 *    continuation piece from where it ended, and so on. A word with a position no piece covers,
 *    or longer than 100 characters, becomes the unknown token as a whole.
 *
 * Pieces as GGUF stores them: a word-initial piece starts with "▁" (U+2581) and a continuation
 * has no prefix (Hugging Face writes them "hello" and "##llo"; llama.cpp's converter rewrites
 * them). Decoding puts a space before each word-initial piece and drops the first one; the
 * normalisation (case, accents, spacing around punctuation) is not undone, so decode(encode(x))
 * equals x only for text that is already normalised. In `encodeWithOffsets`, each token of a word
 * covers the whole word in the input (normalisation moves characters).
 */
export interface WordPieceModel {
  /** Token id -> piece, GGUF style ("▁hello", "llo", "[CLS]"). */
  tokens: readonly string[];
  /** GGUF token types (3 control: matched in text only when allowed). Default: all normal. */
  types?: ArrayLike<number>;
  unknownId: number;
  /** [CLS] and [SEP]: what llama.cpp frames a BERT input with. Encoding never adds them. */
  bosId?: number;
  eosId?: number;
  /** Lower-case the text (uncased models). Default true. */
  lowercase?: boolean;
  /** Strip accents (NFD, drop Mn). Default: same as `lowercase`, as in Hugging Face. */
  stripAccents?: boolean;
}

const WORD_START = "\u2581";
const MAX_WORD_CHARS = 100;
const CONTROL_TYPE = 3;
/** The encoder yields (for `encodeChunks`) after this many words. */
const WORDS_PER_PAUSE = 256;

const IS_OTHER = /^\p{C}$/u;
const IS_NONSPACING_MARK = /\p{Mn}/gu;

function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) || // sic: Hugging Face's range (0x2B820 in the Unicode block list)
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

function isBertPunctuation(cp: number): boolean {
  const asciiPunctuation = (cp >= 0x21 && cp <= 0x2f) || (cp >= 0x3a && cp <= 0x40) || (cp >= 0x5b && cp <= 0x60) || (cp >= 0x7b && cp <= 0x7e);
  return asciiPunctuation || (classOf(cp) & PUNCTUATION) !== 0;
}

function isWhitespace(cp: number): boolean {
  return cp === 0x09 || cp === 0x0a || cp === 0x0d || (classOf(cp) & SPACE) !== 0;
}

export class WordPieceTokenizer extends SpanEncoder implements Tokenizer {
  private readonly specials = new SpecialMatcher();
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly unknownId: number;
  readonly lowercase: boolean;
  readonly stripAccents: boolean;
  private readonly tokens: readonly string[];
  private readonly pieceToId = new Map<string, number>();
  private readonly control = new Set<number>();

  constructor(model: WordPieceModel) {
    super();
    this.tokens = model.tokens;
    this.vocabSize = model.tokens.length;
    const inRange = (field: string, id: number | undefined): number | undefined => {
      if (id !== undefined && (!Number.isInteger(id) || id < 0 || id >= this.vocabSize)) {
        throw new TokenizerError("TOKENIZER_BAD_ARGUMENT", `${field}: expected a token id in 0..${this.vocabSize - 1}, found ${id}`);
      }
      return id;
    };
    this.unknownId = inRange("unknownId", model.unknownId)!;
    this.bosId = inRange("bosId", model.bosId);
    this.eosId = inRange("eosId", model.eosId);
    this.lowercase = model.lowercase ?? true;
    this.stripAccents = model.stripAccents ?? this.lowercase;
    const specials = new Map<string, number>();
    model.tokens.forEach((piece, id) => {
      if (!this.pieceToId.has(piece)) this.pieceToId.set(piece, id);
      if (model.types?.[id] === CONTROL_TYPE) {
        specials.set(piece, id);
        this.control.add(id);
      }
    });
    this.specialTokens = specials;
  }

  /** Special tokens (when allowed) and the plain text between them, each token with its source range. */
  protected *encodeSpans(text: string, options: EncodeOptions | undefined, emit: Emit): Generator<void, void, undefined> {
    const allowed = allowedSet(this.specialTokens, options?.allowedSpecial);
    if (allowed.size === 0) {
      if (text.length > 0) yield* this.encodeText(text, 0, text.length, emit);
      return;
    }
    yield* splitAtSpecials(text, this.specialTokens, this.specials.regexFor(allowed), (from, to) => this.encodeText(text, from, to, emit), emit);
  }

  /**
   * Steps 1-4 on text[from, to), character by character (Hugging Face lower-cases each character
   * on its own: no final-sigma rule), then step 5 per word. Yields every WORDS_PER_PAUSE words.
   */
  private *encodeText(text: string, from: number, to: number, emit: Emit): Generator<void, void, undefined> {
    let word: string[] = [];
    let wordStart = from;
    let words = 0;
    const flush = (end: number): void => {
      if (word.length > 0) {
        this.encodeWord(word, wordStart, end, emit);
        words++;
      }
      word = [];
    };
    for (let i = from; i < to; ) {
      const cp = text.codePointAt(i)!;
      const next = i + (cp > 0xffff ? 2 : 1);
      if (cp === 0 || cp === 0xfffd || (!isWhitespace(cp) && IS_OTHER.test(String.fromCodePoint(cp)))) {
        i = next; // dropped: it neither ends nor joins a word
        continue;
      }
      for (const c of this.normalise(cp)) {
        const d = c.codePointAt(0)!;
        if (isWhitespace(d)) {
          flush(i);
        } else if (isChineseChar(d) || isBertPunctuation(d)) {
          flush(i);
          wordStart = i;
          word.push(c);
          flush(next);
        } else {
          if (word.length === 0) wordStart = i;
          // A word past MAX_WORD_CHARS is [UNK] whatever follows: its length is all that matters.
          if (word.length <= MAX_WORD_CHARS) word.push(c);
        }
      }
      i = next;
      if (words >= WORDS_PER_PAUSE) {
        words = 0;
        yield;
      }
    }
    flush(to);
  }

  /** One character, accents stripped and lower-cased as the model says: zero or more characters. */
  private normalise(cp: number): string[] {
    let c = String.fromCodePoint(cp);
    if (this.stripAccents) c = c.normalize("NFD").replace(IS_NONSPACING_MARK, "");
    if (this.lowercase) c = c.toLowerCase();
    return Array.from(c);
  }

  /** Greedy longest match, first piece with "▁", continuations without. */
  private encodeWord(chars: string[], start: number, end: number, emit: Emit): void {
    if (chars.length > MAX_WORD_CHARS) {
      emit(this.unknownId, start, end);
      return;
    }
    const ids: number[] = [];
    for (let at = 0; at < chars.length; ) {
      let found = -1;
      let stop = chars.length;
      for (; stop > at; stop--) {
        const piece = (at === 0 ? WORD_START : "") + chars.slice(at, stop).join("");
        const id = this.pieceToId.get(piece);
        if (id !== undefined && !this.control.has(id)) {
          found = id;
          break;
        }
      }
      if (found < 0) {
        emit(this.unknownId, start, end);
        return;
      }
      ids.push(found);
      at = stop;
    }
    for (const id of ids) emit(id, start, end);
  }

  tokenBytes(id: number): Uint8Array {
    return encodeUtf8(this.pieceText(id));
  }

  /** A word-initial piece decodes with a space in front; control tokens decode to their text. */
  private pieceText(id: number): string {
    const piece = this.tokens[id];
    if (piece === undefined) throw new TokenizerError("TOKENIZER_UNKNOWN_TOKEN_ID", `token id: expected 0..${this.vocabSize - 1}, found ${id}`);
    return piece.startsWith(WORD_START) ? " " + piece.slice(WORD_START.length) : piece;
  }

  tokenText(id: number): string {
    return displayBytes(this.tokenBytes(id));
  }

  /** Piece text as stored ("▁hello", "llo", "[CLS]"). */
  piece(id: number): string {
    const p = this.tokens[id];
    if (p === undefined) throw new TokenizerError("TOKENIZER_UNKNOWN_TOKEN_ID", `token id: expected 0..${this.vocabSize - 1}, found ${id}`);
    return p;
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    const bytes = concatTokenBytes(ids, (id) => this.tokenBytes(id));
    return bytes[0] === 0x20 ? bytes.subarray(1) : bytes;
  }

  decode(ids: ArrayLike<number>): string {
    return decodeUtf8(this.decodeBytes(ids));
  }
}
