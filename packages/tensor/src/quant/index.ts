// Quantized weights as the kernels read them: the type table and the reference products.
export { QUANT_TYPES, quantTypeInfo, quantRowBytes, type QuantType, type QuantTypeInfo, type ActivationType } from "./types";
export { KV_TYPES, kvTypeInfo, kvRowBytes, kvRowValues, type KvType } from "./kv";
export { packKvRowsReference, packBlockQ8_0, packBlockQ4_0, packBlockQ4_1, roundf, floatToInt8 } from "./kv-pack";
export { Q4_0_TILE_ROWS, canTileQ4_0, layoutFits, packQ4_0Tiles, tryPackQ4_0Tiles, unpackQ4_0Tiles, q4_0TileRow, q4_0TileScaleAt, q4_0TileCodesAt, type QuantLayout } from "./tiles";
