/**
 * CSV (RFC 4180) for exports. Pure. A field with a comma, a double quote, CR or LF is quoted,
 * with quotes doubled; rows end in CRLF. A text field starting with = + - @ TAB or CR is prefixed
 * with a single quote so a spreadsheet shows it rather than evaluating it as a formula
 * (user ids and reasons come from API callers).
 */
const NEEDS_QUOTES = /[",\r\n]/;
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  let text: string;
  if (value instanceof Date) text = value.toISOString();
  else if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") text = String(value);
  else if (typeof value === "string") text = FORMULA_START.test(value) ? `'${value}` : value;
  else text = JSON.stringify(value);
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvRow(values: readonly unknown[]): string {
  return `${values.map(csvField).join(",")}\r\n`;
}
