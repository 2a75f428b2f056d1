// @zero-llm/autograd: the scalar Value engine (src/scalar) and tensor autodiff (src/tensor, src/nn, src/optim).
export { AutogradError, type AutogradErrorCode } from "./errors";
export * from "./scalar/index";
export * from "./tensor/index";
export * as nn from "./nn/index";
export * as optim from "./optim/index";
