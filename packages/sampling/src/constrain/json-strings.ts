import { intersectRanges, subtractRanges, type CodePointRanges } from "./charset";
import { alt, chars, literal, repeat, seq, type Expr } from "./grammar";

/**
 * JSON string content: how the code points of a string value are spelled between the quotes.
 *
 *   unescaped   any scalar value but '"', '\' and U+0000..U+001F
 *   escaped     \" \\ \/ \b \f \n \r \t, or \uXXXX
 *
 * `STRING_CHAR` (a free string) accepts every spelling of one code point, except \u escapes of
 * surrogates: a pair would be one code point in two escapes and break minLength/maxLength
 * counting, a lone one is not Unicode text. Pattern, format and enum strings use one canonical
 * spelling per code point (JSON.stringify's), which is enough: the output only has to be valid.
 */
const QUOTE = 0x22, BACKSLASH = 0x5c;
const UNESCAPED: CodePointRanges = subtractRanges([0x20, 0x10ffff], [QUOTE, QUOTE, BACKSLASH, BACKSLASH]);
const HEX = chars([0x30, 0x39, 0x41, 0x46, 0x61, 0x66]);
/** Four hex digits naming a code point outside D800..DFFF. */
const NON_SURROGATE_HEX4 = alt(
  seq(chars([0x30, 0x39, 0x41, 0x43, 0x61, 0x63, 0x45, 0x46, 0x65, 0x66]), repeat(HEX, 3, 3)),
  seq(chars([0x44, 0x44, 0x64, 0x64]), chars([0x30, 0x37]), repeat(HEX, 2, 2)),
);

export const STRING_CHAR: Expr = alt(
  chars(UNESCAPED),
  seq(literal("\\"), alt(chars([0x22, 0x22, 0x2f, 0x2f, 0x5c, 0x5c, 0x62, 0x62, 0x66, 0x66, 0x6e, 0x6e, 0x72, 0x72, 0x74, 0x74]), seq(literal("u"), NON_SURROGATE_HEX4))),
);

const SHORT_ESCAPES = new Map<number, string>([[0x22, '\\"'], [0x5c, "\\\\"], [0x08, "\\b"], [0x0c, "\\f"], [0x0a, "\\n"], [0x0d, "\\r"], [0x09, "\\t"]]);

/** The canonical spelling of one code point inside a JSON string. */
export function escapeCodePoint(cp: number): string {
  const short = SHORT_ESCAPES.get(cp);
  if (short !== undefined) return short;
  if (cp < 0x20) return `\\u${cp.toString(16).padStart(4, "0")}`;
  return String.fromCodePoint(cp);
}

/** One code point of `set`, spelled canonically inside a JSON string. */
export function jsonChars(set: CodePointRanges): Expr {
  const options: Expr[] = [];
  const plain = intersectRanges(set, UNESCAPED);
  if (plain.length > 0) options.push(chars(plain));
  const special = intersectRanges(set, [0, 0x1f, QUOTE, QUOTE, BACKSLASH, BACKSLASH]);
  for (let i = 0; i < special.length; i += 2) {
    for (let cp = special[i]; cp <= special[i + 1]; cp++) options.push(literal(escapeCodePoint(cp)));
  }
  return alt(...options);
}

/** Maps an expression over string values (a regex, a format) to the same language over JSON string content. */
export function jsonStringContent(e: Expr): Expr {
  switch (e.kind) {
    case "empty": case "ref": return e;
    case "chars": return jsonChars(e.ranges);
    case "literal": return literal(jsonEscape(e.text));
    case "seq": return seq(...e.items.map(jsonStringContent));
    case "alt": return alt(...e.items.map(jsonStringContent));
    case "repeat": return repeat(jsonStringContent(e.item), e.min, e.max);
    case "intersect": return { kind: "intersect", items: e.items.map(jsonStringContent) };
  }
}

export function jsonEscape(text: string): string {
  let out = "";
  for (const ch of text) out += escapeCodePoint(ch.codePointAt(0) ?? 0);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Formats (RFC 3339 dates and times as ajv-formats checks them in "full" mode, RFC 4122 UUIDs).
// ---------------------------------------------------------------------------------------------

const D = chars([0x30, 0x39]);
const digitsExactly = (n: number): Expr => repeat(D, n, n);
const range = (lo: string, hi: string): Expr => chars([lo.charCodeAt(0), hi.charCodeAt(0)]);

/** Two-digit numbers 00..23, 00..59. */
const HOUR = alt(seq(range("0", "1"), D), seq(literal("2"), range("0", "3")));
const MINUTE = seq(range("0", "5"), D);

/**
 * YYYY-MM-DD with the right number of days per month, February 29 only in leap years
 * (divisible by 4, and by 400 when divisible by 100).
 */
export const DATE: Expr = (() => {
  const day28 = alt(seq(literal("0"), range("1", "9")), seq(literal("1"), D), seq(literal("2"), range("0", "8")));
  const day30 = alt(day28, literal("29"), literal("30"));
  const day31 = alt(day30, literal("31"));
  const monthDay = alt(
    seq(alt(literal("01"), literal("03"), literal("05"), literal("07"), literal("08"), literal("10"), literal("12")), literal("-"), day31),
    seq(alt(literal("04"), literal("06"), literal("09"), literal("11")), literal("-"), day30),
    seq(literal("02-"), day28),
  );
  // last two digits divisible by 4: [02468][048] | [13579][26]
  const by4 = alt(seq(chars([0x30, 0x30, 0x32, 0x32, 0x34, 0x34, 0x36, 0x36, 0x38, 0x38]), chars([0x30, 0x30, 0x34, 0x34, 0x38, 0x38])), seq(chars([0x31, 0x31, 0x33, 0x33, 0x35, 0x35, 0x37, 0x37, 0x39, 0x39]), chars([0x32, 0x32, 0x36, 0x36])));
  const by4Not00 = alt(seq(chars([0x30, 0x30]), chars([0x34, 0x34, 0x38, 0x38])), seq(chars([0x32, 0x32, 0x34, 0x34, 0x36, 0x36, 0x38, 0x38]), chars([0x30, 0x30, 0x34, 0x34, 0x38, 0x38])), seq(chars([0x31, 0x31, 0x33, 0x33, 0x35, 0x35, 0x37, 0x37, 0x39, 0x39]), chars([0x32, 0x32, 0x36, 0x36])));
  const leapYear = alt(seq(digitsExactly(2), by4Not00), seq(by4, literal("00")));
  return alt(seq(digitsExactly(4), literal("-"), monthDay), seq(leapYear, literal("-02-29")));
})();

/** HH:MM:SS[.fraction](Z|±HH:MM): a time with its offset, as RFC 3339 full-time requires. */
export const TIME: Expr = seq(HOUR, literal(":"), MINUTE, literal(":"), MINUTE, repeat(seq(literal("."), repeat(D, 1, 9)), 0, 1), alt(literal("Z"), seq(chars([0x2b, 0x2b, 0x2d, 0x2d]), HOUR, literal(":"), MINUTE)));

export const DATE_TIME: Expr = seq(DATE, literal("T"), TIME);

const hex = (n: number): Expr => repeat(chars([0x30, 0x39, 0x61, 0x66]), n, n);
export const UUID: Expr = seq(hex(8), literal("-"), hex(4), literal("-"), hex(4), literal("-"), hex(4), literal("-"), hex(12));

export const FORMATS: ReadonlyMap<string, Expr> = new Map([["date", DATE], ["time", TIME], ["date-time", DATE_TIME], ["uuid", UUID]]);
