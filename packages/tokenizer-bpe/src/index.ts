export { TokenizerError, type TokenizerErrorCode } from "./errors";
export type { EncodeChunksOptions, EncodeOptions, TokenSpan, Tokenizer } from "./types";
export { BpeTokenizer, type BpeModel } from "./bpe";
export {
  BUILTIN_PATTERNS,
  CL100K_PATTERN,
  GPT2_PATTERN,
  LLAMA3_PATTERN,
  O200K_PATTERN,
  QWEN2_PATTERN,
  compilePattern,
  toJsRegExpSource,
  type BuiltinPatternName,
} from "./patterns";
export { cl100kScanner, gpt2Scanner, o200kScanner, qwen2Scanner, regexScanner, type Scanner } from "./scanner";
export { GGUF_PRE_TOKENIZERS, GGUF_PRE_TOKENIZER_NAMES, ggufPreTokenizerName, scannerFor, type PreTokenizer } from "./pre-tokenizers";
export {
  TIKTOKEN_ENCODINGS,
  fromTiktoken,
  isTiktokenEncodingName,
  parseJsTiktokenRanks,
  parseTiktokenFile,
  type JsTiktokenRanks,
  type TiktokenEncodingName,
  type TiktokenSource,
} from "./loaders/tiktoken";
export { bytesToByteLevel, byteLevelToBytes } from "./byte-level";
export { decodeUtf8, decodeUtf8Strict, encodeUtf8, invalidUtf8Offset } from "./utf8";
export { SpmTokenizer, type SpmModel } from "./spm";
export type { SpmPieceBytes } from "./spm-vocabulary";
export { TOKEN_TYPE } from "./gguf/token-type";
export { WordPieceTokenizer, type WordPieceModel } from "./wordpiece";
export { fromLlama2cTokenizer, parseLlama2cTokenizer, type Llama2cTokenizerFile } from "./loaders/llama2c";
export { fromGgufMetadata, type GgufMetadataInput } from "./gguf/read";
export {
  ggufPreTokenizerNameOf,
  llamaVocabularyEntries,
  minimalGpt2Vocabulary,
  minimalLlamaVocabulary,
  toGgufMetadata,
  type GgufTokenizerEntries,
  type GgufTokenizerOptions,
  type GgufTokenizerValue,
} from "./gguf/write";
export { StreamDecoder, createStreamDecoder } from "./stream";
export { trainBpe, trainBpeWithReport, type TrainOptions, type TrainProgress, type TrainReport } from "./train";
export { BPE_FORMAT, BPE_FORMAT_VERSION, exportTokenizerJson, loadBpeJson, saveBpeJson } from "./format";
export { fromTokenizerJson } from "./loaders/hf";
export { detectVocabulary, loadVocabulary, type VocabularyKind } from "./loaders/detect";
