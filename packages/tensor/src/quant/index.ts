// Quantized weights as the kernels read them: the type table and the reference products.
export { QUANT_TYPES, quantTypeInfo, quantRowBytes, type QuantType, type QuantTypeInfo, type ActivationType } from "./types";
export { KV_TYPES, kvTypeInfo, kvRowBytes, kvRowValues, type KvType } from "./kv";
