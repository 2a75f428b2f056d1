export { ConstraintError, type ConstraintErrorCode } from "./errors";
export { Constraint, ConstraintState, compileConstraint, constraintGrammar, type ConstraintOptions, type ConstraintSpec } from "./constraint";
export { parseGbnf } from "./gbnf";
export { formatGbnf } from "./gbnf-format";
export type { Expr, Grammar } from "./grammar";
export { tokenVocabulary, type TokenVocabulary, type TokenizerLike } from "./vocabulary";
export { jsonSchemaGrammar, jsonValueGrammar, type JsonGrammarOptions, type JsonSchema } from "./json-schema";
export { regexToExpr } from "./regex";
export { isTokenAllowed, maskWords } from "./token-mask";
