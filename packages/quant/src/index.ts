export { QuantError, type QuantErrorCode } from "./errors";
export { QK8_0, Q8_0_BLOCK_BYTES, quantizeRowQ8_0, dequantizeRowQ8_0, dotRowQ8_0 } from "./formats/q8_0";
export { QK4_0, Q4_0_BLOCK_BYTES, quantizeRowQ4_0, dequantizeRowQ4_0, dotRowQ4_0 } from "./formats/q4_0";
export { QK4_1, Q4_1_BLOCK_BYTES, quantizeRowQ4_1, dequantizeRowQ4_1, dotRowQ4_1 } from "./formats/q4_1";
export { QK_K, Q4_K_BLOCK_BYTES, quantizeRowQ4_K, dequantizeRowQ4_K, dotRowQ4_K, scaleMinK4 } from "./formats/q4_k";
export { QK8_1, Q8_1_BLOCK_BYTES, quantizeRowQ8_1, dequantizeRowQ8_1 } from "./formats/q8_1";
export { Q8_K_BLOCK_BYTES, quantizeRowQ8_K, dequantizeRowQ8_K } from "./formats/q8_k";
