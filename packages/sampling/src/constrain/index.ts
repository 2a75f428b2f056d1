export { ConstraintError, type ConstraintErrorCode } from "./errors";
export { Constraint, ConstraintState, compileConstraint, constraintGrammar, type ConstraintOptions, type ConstraintSpec } from "./constraint";
export { parseGbnf } from "./gbnf";
export { formatGbnf, type Expr, type Grammar } from "./grammar";
export { tokenVocabulary, type TokenVocabulary, type TokenizerLike } from "./vocabulary";
