export { ConstraintError, type ConstraintErrorCode } from "./errors";
export { Constraint, ConstraintState, compileConstraint, constraintGrammar, type ConstraintOptions, type ConstraintSpec } from "./constraint";
export { parseGbnf } from "./gbnf";
export { formatGbnf, type Expr, type Grammar } from "./grammar";
export { tokenVocabulary, type TokenVocabulary, type TokenizerLike } from "./vocabulary";
export { jsonSchemaGrammar, jsonValueGrammar, type JsonGrammarOptions, type JsonSchema } from "./json-schema";
export { regexToExpr } from "./regex";
