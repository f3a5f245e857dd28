/**
 * The filter panel's state and the API's filter expression (docs/filters.md), both ways.
 *
 * The URL holds the expression (`filter=`), never the panel's state: the expression is what the
 * API runs, what the advanced box shows and what a person may type by hand. The panel reads it
 * with `parseFilter` and, after a click, writes it back with `composeFilter`:
 *
 *   photographer IN ["Ana Lima", "Ben O'Hara"] AND year 2018 TO 2020 AND taken >= 2019-05-01
 *
 * `parseFilter` splits the expression at its top-level ANDs; each part the panel can show (one
 * field's `=` or `IN` for string/boolean/list fields; `>=`, `<=` or `TO` for number/datetime
 * fields) becomes panel state, and every other part (`NOT (...)`, `OR`, `!=`, `EXISTS`, a field
 * given twice) is kept verbatim in `extra`, so clicking a chip never loses what was typed.
 */

export type FieldType = "string" | "number" | "boolean" | "datetime" | "list";
/** The index's metadata fields and their types (GET /health `metadata_fields`), in its order. */
export type MetadataFields = Record<string, FieldType>;

/** Bounds of a number or datetime field; "" is an open end. Dates are YYYY-MM-DD (both included). */
export interface RangeBounds {
  from: string;
  to: string;
}

export interface PanelState {
  /** field -> the values chosen (string, boolean and list fields), in the order chosen. */
  values: Record<string, string[]>;
  /** field -> its bounds (number and datetime fields). */
  ranges: Record<string, RangeBounds>;
  /** Parts of the expression the panel cannot show, kept as written. */
  extra: string[];
}

export const EMPTY_PANEL: PanelState = { values: {}, ranges: {}, extra: [] };

/** How many fields the panel shows (and asks facets for): the first ones of `metadata_fields`. */
export const MAX_PANEL_FIELDS = 8;
/**
 * Fields the panel shows first, wherever the index lists them: `has_text` (an index built with
 * --ocr) comes after the image and file facts, past the first eight.
 */
export const PRIORITY_FIELDS: readonly string[] = ["has_text"];
/**
 * Free text, one value per image: no chips until asked for ("Show all"). The recognised text
 * (`ocr_text`) is not offered as a sort either: most images have none, and it reads as a line on
 * the cards and in the larger view.
 */
export const FREE_TEXT_FIELDS: ReadonlySet<string> = new Set(["caption", "ocr_text"]);
/** Names and value labels for people, where the field's own name says too little. */
const FIELD_LABELS: Record<string, { name: string; values?: Record<string, string> }> = {
  has_text: { name: "Text in image", values: { true: "Has text", false: "No text" } },
};

const KEYWORDS = new Set(["AND", "OR", "NOT", "TO", "IN", "EXISTS", "IS", "NULL", "EMPTY"]);
const FIELD_TYPES = new Set<string>(["string", "number", "boolean", "datetime", "list"]);
const BARE_NAME = /^[\p{L}\p{M}_][\p{L}\p{M}\p{N}_.-]*$/u;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export const isValueField = (type: FieldType | undefined) => type === "string" || type === "boolean" || type === "list";
export const isRangeField = (type: FieldType | undefined) => type === "number" || type === "datetime";

/** `metadata_fields` as reported, keeping only the types this UI knows. */
export function readFields(reported: Record<string, string> | null | undefined): MetadataFields {
  const fields: MetadataFields = {};
  for (const [name, type] of Object.entries(reported ?? {})) if (FIELD_TYPES.has(type)) fields[name] = type as FieldType;
  return fields;
}

/** The fields the panel shows and asks facets for: PRIORITY_FIELDS first, then the index's order. */
export function panelFields(fields: MetadataFields, max = MAX_PANEL_FIELDS): string[] {
  const first = PRIORITY_FIELDS.filter((name) => name in fields);
  const rest = Object.keys(fields).filter((name) => !first.includes(name));
  return [...first, ...rest].slice(0, max);
}

/** A field's name as the panel shows it. */
export function fieldLabel(field: string): string {
  return FIELD_LABELS[field]?.name ?? field;
}

/** A chip's label: the field's own words for a value when it has them, else `fallback`. */
export function valueLabel(field: string, value: string, fallback: string): string {
  return FIELD_LABELS[field]?.values?.[value.toLowerCase()] ?? fallback;
}

/** A string value for the filter: double quotes, with `\` and `"` escaped by a backslash. */
export function quoteString(value: string): string {
  return `"${value.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
}

/** A field name for the filter: bare when the grammar allows it, else in backticks. */
export function quoteField(name: string): string {
  return BARE_NAME.test(name) && !KEYWORDS.has(name.toUpperCase()) ? name : `\`${name}\``;
}

function formatValue(type: FieldType, value: string): string {
  if (type === "boolean") return value.toLowerCase() === "true" ? "true" : "false";
  return quoteString(value);
}

function formatBound(type: FieldType, bound: string): string | null {
  const text = bound.trim();
  if (!text) return null;
  if (type === "number") return Number.isFinite(Number(text)) ? String(Number(text)) : null;
  return DAY.test(text) ? text : null;
}

/** The panel's clause for one field, or null when it has none. */
function fieldClause(name: string, type: FieldType, state: PanelState): string | null {
  const field = quoteField(name);
  const values = state.values[name] ?? [];
  if (isValueField(type) && values.length === 1) return `${field} = ${formatValue(type, values[0])}`;
  if (isValueField(type) && values.length > 1) return `${field} IN [${values.map((v) => formatValue(type, v)).join(", ")}]`;
  const range = state.ranges[name];
  if (!isRangeField(type) || !range) return null;
  const from = formatBound(type, range.from);
  const to = formatBound(type, range.to);
  if (from !== null && to !== null) return `${field} ${from} TO ${to}`;
  if (from !== null) return `${field} >= ${from}`;
  if (to !== null) return `${field} <= ${to}`;
  return null;
}

/** The expression for the panel's state ("" for none): its fields in `fields`' order, then `extra`. */
export function composeFilter(state: PanelState, fields: MetadataFields): string {
  const clauses: string[] = [];
  for (const [name, type] of Object.entries(fields)) {
    const clause = fieldClause(name, type, state);
    if (clause) clauses.push(clause);
  }
  const extra = state.extra.map((part) => part.trim()).filter(Boolean);
  const parts = [...clauses, ...extra];
  // An extra part with a top-level OR would otherwise bind looser than the ANDs around it.
  return parts.map((part) => (parts.length > 1 && hasTopLevelOr(part) ? `(${part})` : part)).join(" AND ");
}

// ---- reading an expression --------------------------------------------------------------------

type TokenType = "name" | "qname" | "string" | "number" | "date" | "op" | "(" | ")" | "[" | "]" | ",";
interface Token {
  type: TokenType;
  /** The value: a string's content (escapes resolved), a name, or the token as written. */
  text: string;
  start: number;
  end: number;
}

const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", "0": "\0" };
const PATTERNS: [TokenType, RegExp][] = [
  ["qname", /`[^`]+`/y],
  ["string", /"(?:[^"\\]|\\[\s\S])*"|'(?:[^'\\]|\\[\s\S])*'/uy],
  ["date", /\d{4}-\d{2}(?:-\d{2}(?:T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?)?)?/y],
  ["number", /-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y],
  ["name", /[\p{L}\p{M}_][\p{L}\p{M}\p{N}_.-]*/uy],
  ["op", /!=|>=|<=|=|>|</y],
];

/** The tokens of an expression, as the API's grammar reads them; null where it would not. */
function tokenize(text: string): Token[] | null {
  const tokens: Token[] = [];
  let at = 0;
  while (at < text.length) {
    const char = text[at];
    if (/\s/.test(char)) {
      at += 1;
      continue;
    }
    if ("()[],".includes(char)) {
      tokens.push({ type: char as TokenType, text: char, start: at, end: at + 1 });
      at += 1;
      continue;
    }
    const found = PATTERNS.map(([type, pattern]) => {
      pattern.lastIndex = at;
      const match = pattern.exec(text);
      return match ? { type, raw: match[0] } : null;
    }).find((match) => match !== null);
    if (!found) return null;
    const value =
      found.type === "string"
        ? found.raw.slice(1, -1).replace(/\\([\s\S])/gu, (_, escaped: string) => ESCAPES[escaped] ?? escaped)
        : found.type === "qname"
          ? found.raw.slice(1, -1)
          : found.raw;
    tokens.push({ type: found.type, text: value, start: at, end: at + found.raw.length });
    at += found.raw.length;
  }
  return tokens;
}

const isKeyword = (token: Token | undefined, word?: string) =>
  token?.type === "name" && KEYWORDS.has(token.text.toUpperCase()) && (!word || token.text.toUpperCase() === word);
const isField = (token: Token | undefined) => token?.type === "qname" || (token?.type === "name" && !isKeyword(token));
const isValue = (token: Token | undefined) =>
  !!token && (token.type === "string" || token.type === "number" || token.type === "date" || (token.type === "name" && !isKeyword(token)));

/** The tokens split at the ANDs outside parentheses and brackets; null when an OR is there too. */
function splitAnd(tokens: Token[]): Token[][] | null {
  const parts: Token[][] = [[]];
  let depth = 0;
  for (const token of tokens) {
    if (token.type === "(" || token.type === "[") depth += 1;
    if (token.type === ")" || token.type === "]") depth -= 1;
    if (depth === 0 && isKeyword(token, "OR")) return null;
    if (depth === 0 && isKeyword(token, "AND")) parts.push([]);
    else parts[parts.length - 1].push(token);
  }
  return parts;
}

function hasTopLevelOr(text: string): boolean {
  const tokens = tokenize(text);
  return tokens !== null && splitAnd(tokens) === null;
}

/** What one part of the expression sets in the panel, or null when the panel cannot show it. */
function readClause(part: Token[], fields: MetadataFields): { field: string; values?: string[]; range?: RangeBounds } | null {
  const [head, second, third, fourth] = part;
  if (!isField(head)) return null;
  const field = head.text;
  const type = fields[field];
  if (isValueField(type)) {
    const norm = (token: Token) => (type === "boolean" ? token.text.toLowerCase() : token.text);
    if (part.length === 3 && second.type === "op" && second.text === "=" && isValue(third)) {
      return { field, values: [norm(third)] };
    }
    if (isKeyword(second, "IN") && third?.type === "[" && part[part.length - 1].type === "]") {
      const inner = part.slice(3, -1); // value, comma, value, ... (a trailing comma is allowed)
      const wellFormed = inner.every((token, index) => (index % 2 === 0 ? isValue(token) : token.type === ","));
      const items = inner.filter((_, index) => index % 2 === 0).map(norm);
      if (wellFormed && items.length > 0) return { field, values: items };
    }
    return null;
  }
  if (!isRangeField(type)) return null;
  const bound = (token: Token | undefined) => {
    if (!token || (token.type !== "number" && token.type !== "date")) return null;
    if (type === "number") return token.type === "number" ? token.text : null;
    return DAY.test(token.text) ? token.text : null;
  };
  if (part.length === 3 && second.type === "op" && (second.text === ">=" || second.text === "<=")) {
    const value = bound(third);
    if (value === null) return null;
    return { field, range: second.text === ">=" ? { from: value, to: "" } : { from: "", to: value } };
  }
  if (part.length === 4 && isKeyword(third, "TO")) {
    const from = bound(second);
    const to = bound(fourth);
    if (from !== null && to !== null) return { field, range: { from, to } };
  }
  return null;
}

/** The panel's state for an expression (see the module's comment); "" is the empty panel. */
export function parseFilter(text: string, fields: MetadataFields): PanelState {
  const trimmed = text.trim();
  if (!trimmed) return EMPTY_PANEL;
  const tokens = tokenize(trimmed);
  const parts = tokens ? splitAnd(tokens) : null;
  if (!parts || parts.some((part) => part.length === 0)) return { ...EMPTY_PANEL, extra: [trimmed] };
  const state: PanelState = { values: {}, ranges: {}, extra: [] };
  for (const part of parts) {
    const clause = readClause(part, fields);
    const source = trimmed.slice(part[0].start, part[part.length - 1].end);
    if (clause?.values && !state.values[clause.field]) {
      state.values[clause.field] = clause.values;
    } else if (clause?.range && mergeable(state.ranges[clause.field], clause.range)) {
      const known = state.ranges[clause.field] ?? { from: "", to: "" };
      state.ranges[clause.field] = { from: clause.range.from || known.from, to: clause.range.to || known.to };
    } else {
      state.extra.push(source);
    }
  }
  return state;
}

/** Whether a bound can join those known: `year >= 2018 AND year <= 2020` is one range. */
function mergeable(known: RangeBounds | undefined, next: RangeBounds): boolean {
  return !known || ((!known.from || !next.from) && (!known.to || !next.to));
}

// ---- changing the panel ------------------------------------------------------------------------

const sameValue = (a: string, b: string) => a.toLowerCase() === b.toLowerCase(); // the API ignores case

/** Whether a value of a field is chosen (compared as the API does, ignoring case). */
export function isChosen(state: PanelState, field: string, value: string): boolean {
  return (state.values[field] ?? []).some((chosen) => sameValue(chosen, value));
}

/** Choose a value of a field, or un-choose it when it is chosen. */
export function toggleValue(state: PanelState, field: string, value: string): PanelState {
  const current = state.values[field] ?? [];
  const next = isChosen(state, field, value)
    ? current.filter((chosen) => !sameValue(chosen, value))
    : [...current, value];
  const values = { ...state.values, [field]: next };
  if (next.length === 0) delete values[field];
  return { ...state, values };
}

/** Set (or, with both ends empty, clear) a field's range. */
export function setRange(state: PanelState, field: string, range: RangeBounds): PanelState {
  const ranges = { ...state.ranges, [field]: range };
  if (!range.from.trim() && !range.to.trim()) delete ranges[field];
  return { ...state, ranges };
}

/** The state without a field's values or range: the context of that field's own facet. */
export function withoutField(state: PanelState, field: string): PanelState {
  const values = { ...state.values };
  const ranges = { ...state.ranges };
  delete values[field];
  delete ranges[field];
  return { ...state, values, ranges };
}

// ---- sorting -----------------------------------------------------------------------------------

export interface SortChoice {
  /** The `sort` parameter ("" = by relevance). */
  value: string;
  label: string;
}

/** Relevance, then each number, datetime and string field ascending and descending. */
export function sortChoices(fields: MetadataFields): SortChoice[] {
  const choices: SortChoice[] = [{ value: "", label: "Relevance" }];
  for (const [name, type] of Object.entries(fields)) {
    // The API splits sort keys at "," and ":", so such a name cannot be sorted on.
    if (type === "list" || type === "boolean" || name === "ocr_text" || /[,:]/.test(name)) continue;
    const [up, down] = type === "string" ? ["A → Z", "Z → A"] : type === "datetime" ? ["oldest first", "newest first"] : ["low → high", "high → low"];
    choices.push({ value: `${name}:asc`, label: `${name}, ${up}` }, { value: `${name}:desc`, label: `${name}, ${down}` });
  }
  return choices;
}
