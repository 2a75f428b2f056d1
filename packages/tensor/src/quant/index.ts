// Quantized weights as the kernels read them: the type table and the reference products.
export { QUANT_TYPES, quantTypeInfo, quantRowBytes, type QuantType, type QuantTypeInfo, type ActivationType } from "./types";
export { KV_TYPES, kvTypeInfo, kvRowBytes, kvRowValues, type KvType } from "./kv";
export { Q4_0_TILE_ROWS, canTileQ4_0, layoutFits, packQ4_0Tiles, tryPackQ4_0Tiles, unpackQ4_0Tiles, q4_0TileRow, q4_0TileScaleAt, q4_0TileCodesAt, type QuantLayout } from "./tiles";
