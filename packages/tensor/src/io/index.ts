// File IO: safetensors and GGUF readers/writers, the ggml type table. Everything here works in
// the browser; paths, files on disk and atomic writes are in @zero-llm/tensor/node (src/node).
export { GgufError, SafetensorsError, type GgufErrorCode, type SafetensorsErrorCode } from "./errors";
export { GGML_TYPES, GgmlType, ggmlTypeInfo, requireGgmlType, ggmlTensorBytes, type GgmlTypeInfo } from "./ggml-types";
export { ggmlToFloat32 } from "./ggml-dequant";
export {
  ggufValue, GGUF_VALUE_TYPE_ID, GGUF_VALUE_TYPES,
  type GgufValue, type GgufScalar, type GgufArray, type GgufArrayItems, type GgufValueType, type GgufScalarType, type GgufPlainValue,
} from "./gguf-values";
export { GgufStringArray, ggufStringArrayOf } from "./gguf-strings";
export { GgufFile, parseGgufHeader, GGUF_DEFAULT_ALIGNMENT, GGUF_MAX_DIMS, type GgufHeader, type GgufHeaderOptions, type GgufTensorInfo } from "./gguf-read";
export { serializeGguf, ggufParts, type GgufWriteInput, type GgufTensorInput, type GgufParts } from "./gguf-write";
export {
  SafetensorsFile, parseSafetensorsHeader, safetensorsHeaderLength, safetensorsBytesToArray, safetensorsBytesToFloat32,
  SAFETENSORS_DTYPE_BITS, SAFETENSORS_MAX_HEADER_BYTES,
  type SafetensorsDtype, type SafetensorsTensorInfo, type SafetensorsHeader, type SafetensorsArray,
} from "./safetensors-read";
export { serializeSafetensors, safetensorsParts, type SafetensorsWriteInput, type SafetensorsTensorInput, type SafetensorsParts } from "./safetensors-write";
export { bytesSource, blobSource, type ByteSource } from "./source";
export { READ_CHUNK_BYTES, readFloat32At } from "./chunked";
export { GgufReader } from "./gguf-reader";
export { SafetensorsReader } from "./safetensors-reader";
