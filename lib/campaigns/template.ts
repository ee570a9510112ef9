import { assertNever } from "@/lib/segments/expression";

/**
 * Message templates: `{{user.email}}`, `{{user.phone}}`, `{{user.attributes.<key>}}`,
 * `{{segment.name}}`, `{{campaign.name}}`, with optional whitespace inside the braces.
 *
 *   tag  := "{{" ws* path ws* "}}"
 *   path := name ("." name)*          name := [A-Za-z0-9_-]+
 *
 * There are no sections, filters, partials or escapes: a template is text with holes. A
 * variable with no value is an error (`TemplateError`), never a blank in a customer's inbox,
 * and a value that is an object or an array is refused rather than rendered as JSON.
 * Literal `{{` cannot appear in a template; a lone `}}` is ordinary text.
 * Pure: no I/O.
 */

/** The objects a variable may start with. */
export const templateRoots = ["user", "segment", "campaign"] as const;
export type TemplateRoot = (typeof templateRoots)[number];

/**
 * The fields each root offers. `user.attributes` is open-ended: it takes a key, and keys may
 * contain dots (`user.attributes.address.city`).
 */
const ROOT_FIELDS: Record<TemplateRoot, readonly string[]> = {
  user: ["email", "phone", "attributes"],
  segment: ["name"],
  campaign: ["name"],
};

/** One variable occurrence. `path` is canonical (no whitespace); `keys` follow the root. */
export interface TemplateVariable {
  path: string;
  root: TemplateRoot;
  keys: string[];
  /** Zero-based offset of the opening `{{` in the template text. */
  start: number;
  /** Offset just past the closing `}}`. */
  end: number;
}

export type TemplatePart = { type: "text"; text: string } | ({ type: "variable" } & TemplateVariable);

/** A template that has already been parsed, so hot paths can parse once and render many times. */
export type TemplateSource = string | readonly TemplatePart[];

/**
 * What a template can read. Every field is optional because a profile may lack any of them;
 * a variable whose value is absent, null or blank is reported, never rendered as "". Values are
 * read from plain objects and arrays only (JSON and database rows are); a class instance or a
 * Date counts as not a single value.
 */
export interface TemplateContext {
  user?: {
    email?: string | null;
    phone?: string | null;
    attributes?: Record<string, unknown> | null;
  } | null;
  segment?: { name?: string | null } | null;
  campaign?: { name?: string | null } | null;
}

/** A malformed template; `position` is the zero-based offset of the problem. */
export class TemplateSyntaxError extends Error {
  constructor(
    /** What is wrong, without the location (the message adds it). */
    public readonly reason: string,
    public readonly position: number,
    /** One-based line and column of `position`, for messages about long templates. */
    public readonly line: number,
    public readonly column: number,
  ) {
    super(`${reason} at position ${position} (line ${line}, column ${column})`);
    this.name = "TemplateSyntaxError";
  }
}

export interface VariableProblem {
  path: string;
  /** `missing`: absent, null, blank or not a finite number; `not_scalar`: an object or array. */
  reason: "missing" | "not_scalar";
}

/** Rendering refused: the listed variables have no single value to put in the message. */
export class TemplateError extends Error {
  constructor(public readonly problems: readonly VariableProblem[]) {
    super(describeProblems(problems));
    this.name = "TemplateError";
  }

  /** Paths of the variables with no value. */
  get missing(): string[] {
    return this.problems.filter((p) => p.reason === "missing").map((p) => p.path);
  }

  /** Paths of the variables whose value is an object or an array. */
  get nonScalar(): string[] {
    return this.problems.filter((p) => p.reason === "not_scalar").map((p) => p.path);
  }
}

function describeProblems(problems: readonly VariableProblem[]): string {
  const missing = problems.filter((p) => p.reason === "missing").map((p) => p.path);
  const nonScalar = problems.filter((p) => p.reason === "not_scalar").map((p) => p.path);
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`no value for ${missing.join(", ")}`);
  if (nonScalar.length > 0) parts.push(`not a single value (an object or array) for ${nonScalar.join(", ")}`);
  return `cannot render template: ${parts.join("; ")}`;
}

// ---------------------------------------------------------------------------------------------
// Parsing

const NAME_CHAR = /[A-Za-z0-9_-]/;
const WS = /\s/;

/** A part before the root is checked: `root` is any name, `rootPos` where it starts. */
type ScannedPart =
  | { type: "text"; text: string }
  | { type: "variable"; path: string; root: string; keys: string[]; start: number; end: number; rootPos: number };

const ROOTS_HINT = `variables start with ${templateRoots.map((r) => `${r}.`).join(", ")}`;

/** Maps zero-based offsets to one-based line and column; built once per text. */
function locator(text: string): (position: number) => { line: number; column: number } {
  const lineStarts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) lineStarts.push(i + 1);
  return (position) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= position) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: position - lineStarts[lo]! + 1 };
  };
}

function syntaxError(text: string, reason: string, position: number): TemplateSyntaxError {
  const { line, column } = locator(text)(position);
  return new TemplateSyntaxError(reason, position, line, column);
}

/**
 * Splits text into parts and checks the tag grammar. The root is not checked here, so
 * `checkTemplateAgainstSchema` can report unknown roots alongside other problems.
 */
function scan(text: string): ScannedPart[] {
  const parts: ScannedPart[] = [];
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf("{{", at);
    if (open < 0) break;
    if (open > at) parts.push({ type: "text", text: text.slice(at, open) });
    const close = text.indexOf("}}", open + 2);
    const reopen = text.indexOf("{{", open + 2);
    if (close < 0) throw syntaxError(text, "unclosed '{{' (no matching '}}')", open);
    if (reopen >= 0 && reopen < close) throw syntaxError(text, "unclosed '{{' (another '{{' comes before its '}}')", open);

    let from = open + 2;
    let to = close;
    while (from < to && WS.test(text[from]!)) from++;
    while (to > from && WS.test(text[to - 1]!)) to--;
    if (from === to) throw syntaxError(text, "empty tag '{{}}'", open);

    const keys: string[] = [];
    let nameStart = from;
    for (let i = from; i <= to; i++) {
      if (i === to || text[i] === ".") {
        if (i === nameStart) {
          const what = i === to ? "variable ends with '.'" : "empty name in variable (a '.' must separate two names)";
          throw syntaxError(text, what, i === to ? i - 1 : i);
        }
        keys.push(text.slice(nameStart, i));
        nameStart = i + 1;
      } else if (!NAME_CHAR.test(text[i]!)) {
        throw syntaxError(
          text,
          `unexpected character '${text[i]}' in variable (names use letters, digits, '_' and '-', joined by '.')`,
          i,
        );
      }
    }
    const [root, ...rest] = keys as [string, ...string[]];
    parts.push({ type: "variable", path: keys.join("."), root, keys: rest, start: open, end: close + 2, rootPos: from });
    at = close + 2;
  }
  if (at < text.length) parts.push({ type: "text", text: text.slice(at) });
  return parts;
}

const isRoot = (name: string): name is TemplateRoot => (templateRoots as readonly string[]).includes(name);

/**
 * Parses template text into text and variable parts; throws `TemplateSyntaxError` with the
 * position of an unclosed `{{`, an empty tag, a malformed name or an unknown root. Fields under
 * a known root are checked by `checkTemplateAgainstSchema`, not here.
 */
export function parseTemplate(text: string): TemplatePart[] {
  return scan(text).map((part): TemplatePart => {
    if (part.type === "text") return part;
    if (!isRoot(part.root)) {
      throw syntaxError(text, `unknown variable '${part.path}' (${ROOTS_HINT})`, part.rootPos);
    }
    return { type: "variable", path: part.path, root: part.root, keys: part.keys, start: part.start, end: part.end };
  });
}

const partsOf = (template: TemplateSource): readonly TemplatePart[] =>
  typeof template === "string" ? parseTemplate(template) : template;

const variablesOf = (parts: readonly TemplatePart[]): TemplateVariable[] =>
  parts.flatMap((p) => (p.type === "variable" ? [{ path: p.path, root: p.root, keys: p.keys, start: p.start, end: p.end }] : []));

/** The distinct variables used, in order of first appearance (each with its first position). */
export function templateVariables(template: TemplateSource): TemplateVariable[] {
  const seen = new Map<string, TemplateVariable>();
  for (const v of variablesOf(partsOf(template))) if (!seen.has(v.path)) seen.set(v.path, v);
  return [...seen.values()];
}

// ---------------------------------------------------------------------------------------------
// Static check

export interface TemplateIssue {
  kind: "syntax" | "unknown_root" | "unknown_field" | "unknown_attribute";
  /** The variable concerned; null for a syntax error. */
  path: string | null;
  /** Zero-based offset of the problem (a variable's opening `{{`), and its one-based line and column. */
  position: number;
  line: number;
  column: number;
  /** What is wrong, without the location. */
  message: string;
}

/**
 * Flags what can never resolve whatever the user: a syntax error, an unknown root, a field the
 * root does not have (`user.name`, `segment.id`, `user.email.domain`, a bare `user`), and, when
 * `attributeKeys` is given, an attribute key outside it. A known key also covers the keys below
 * it (`address` covers `user.attributes.address.city`). Each distinct path is reported once, at
 * its first occurrence. An empty array means the template is fit to activate as far as can be
 * known before meeting a user; `missingVariables` answers the rest per user.
 */
export function checkTemplateAgainstSchema(text: string, options: { attributeKeys?: readonly string[] } = {}): TemplateIssue[] {
  let parts: ScannedPart[];
  try {
    parts = scan(text);
  } catch (error) {
    if (error instanceof TemplateSyntaxError) {
      const { position, line, column, reason } = error;
      return [{ kind: "syntax", path: null, position, line, column, message: reason }];
    }
    throw error;
  }
  const known = options.attributeKeys ? new Set(options.attributeKeys) : null;
  const locate = locator(text);
  const issues: TemplateIssue[] = [];
  const seen = new Set<string>();
  for (const part of parts) {
    if (part.type !== "variable" || seen.has(part.path)) continue;
    seen.add(part.path);
    const issue = (kind: TemplateIssue["kind"], message: string) =>
      issues.push({ kind, path: part.path, position: part.start, ...locate(part.start), message });
    if (!isRoot(part.root)) {
      issue("unknown_root", `unknown variable '${part.path}': ${ROOTS_HINT}`);
      continue;
    }
    const fields = ROOT_FIELDS[part.root];
    const offered = part.root === "user" ? "user.email, user.phone or user.attributes.<key>" : `${part.root}.name`;
    const [field, ...below] = part.keys;
    if (field === undefined || !fields.includes(field)) {
      issue("unknown_field", `unknown variable '${part.path}': use ${offered}`);
    } else if (field === "attributes") {
      if (below.length === 0) {
        issue("unknown_field", `'${part.path}' needs a key, like user.attributes.plan`);
      } else if (known && !coveredBy(below, known)) {
        issue("unknown_attribute", `unknown attribute '${below.join(".")}' in '${part.path}'`);
      }
    } else if (below.length > 0) {
      issue("unknown_field", `unknown variable '${part.path}': ${part.root}.${field} is a single value with no fields`);
    }
  }
  return issues;
}

function coveredBy(keys: readonly string[], known: ReadonlySet<string>): boolean {
  for (let n = keys.length; n >= 1; n--) if (known.has(keys.slice(0, n).join("."))) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Resolution and rendering

const NOT_FOUND = Symbol("not found");

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/**
 * Walks `keys` into `value` through own properties only, so `constructor` or `__proto__` never
 * reach the prototype. Attribute keys may themselves contain dots, so at each level the longest
 * run of names that is an own key wins, falling back to shorter runs: `a.b.c` finds
 * `{ "a.b": { c } }`, `{ a: { "b.c": … } }` and `{ a: { b: { c } } }`.
 */
function lookup(value: unknown, keys: readonly string[]): unknown {
  if (keys.length === 0) return value;
  if (Array.isArray(value)) {
    const index = keys[0]!;
    return /^(0|[1-9]\d*)$/.test(index) && Number(index) < value.length ? lookup(value[Number(index)], keys.slice(1)) : NOT_FOUND;
  }
  if (!isPlainObject(value)) return NOT_FOUND;
  for (let n = keys.length; n >= 1; n--) {
    const key = keys.slice(0, n).join(".");
    if (Object.hasOwn(value, key)) {
      const found = lookup(value[key], keys.slice(n));
      if (found !== NOT_FOUND) return found;
    }
  }
  return NOT_FOUND;
}

type Resolved = { ok: true; value: string } | { ok: false; reason: VariableProblem["reason"] };

function resolve(variable: Pick<TemplateVariable, "root" | "keys">, context: TemplateContext): Resolved {
  const value = lookup(context[variable.root], variable.keys);
  if (value === NOT_FOUND || value === undefined || value === null) return { ok: false, reason: "missing" };
  switch (typeof value) {
    case "string":
      // A blank value would render as exactly the blank the activation check exists to prevent.
      return value.trim() === "" ? { ok: false, reason: "missing" } : { ok: true, value };
    case "number":
      return Number.isFinite(value) ? { ok: true, value: String(value) } : { ok: false, reason: "missing" };
    case "boolean":
    case "bigint":
      return { ok: true, value: String(value) };
    default:
      // Objects, arrays, functions, symbols: there is no single value to show a customer.
      return { ok: false, reason: "not_scalar" };
  }
}

/**
 * The variables this context cannot fill, in order of first appearance, with why: `missing`
 * (absent, null, blank or not a finite number) or `not_scalar` (an object or an array).
 */
export function unresolvedVariables(template: TemplateSource, context: TemplateContext): VariableProblem[] {
  const problems: VariableProblem[] = [];
  for (const v of templateVariables(template)) {
    const r = resolve(v, context);
    if (!r.ok) problems.push({ path: v.path, reason: r.reason });
  }
  return problems;
}

/**
 * Paths of the variables this context lacks a usable value for (see `unresolvedVariables` for
 * the reason of each). Empty means `renderTemplate` will succeed for this context.
 */
export function missingVariables(template: TemplateSource, context: TemplateContext): string[] {
  return unresolvedVariables(template, context).map((p) => p.path);
}

export type EscapeMode = "html" | "none";

export interface RenderOptions {
  /** `html` for email bodies; `none` for subjects, push and SMS. Required: no silent default. */
  escape: EscapeMode;
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes & < > " ' so a value is inert in HTML text and in quoted attributes. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

function escapeWith(mode: EscapeMode, value: string): string {
  switch (mode) {
    case "html":
      return escapeHtml(value);
    case "none":
      return value;
    default:
      return assertNever(mode);
  }
}

/** Resolves every variable or throws one `TemplateError` naming all that failed. */
function resolveAll(parts: readonly TemplatePart[], context: TemplateContext): Map<string, string> {
  const values = new Map<string, string>();
  const problems: VariableProblem[] = [];
  for (const v of templateVariables(parts)) {
    const r = resolve(v, context);
    if (r.ok) values.set(v.path, r.value);
    else problems.push({ path: v.path, reason: r.reason });
  }
  if (problems.length > 0) throw new TemplateError(problems);
  return values;
}

/**
 * Renders a template. Throws `TemplateSyntaxError` for malformed text and `TemplateError`
 * listing every variable without a single value; it never renders a blank. Only the values
 * are escaped: the template's own text (an email's HTML) is the author's and passes through.
 */
export function renderTemplate(template: TemplateSource, context: TemplateContext, options: RenderOptions): string {
  const parts = partsOf(template);
  const values = resolveAll(parts, context);
  return parts.map((p) => (p.type === "text" ? p.text : escapeWith(options.escape, values.get(p.path)!))).join("");
}

// ---------------------------------------------------------------------------------------------
// Email

export interface EmailTemplate {
  /** A one-line template, rendered without escaping. */
  subject: TemplateSource;
  /** An HTML template; values are HTML-escaped. */
  template: TemplateSource;
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

/**
 * Makes a string safe as a header value: line breaks (CR, LF and the Unicode ones) become a
 * space, so a value like "Hi\r\nBcc: …" cannot start a new header; other control characters go.
 */
export function toHeaderValue(value: string): string {
  return value
    .replace(/[\r\n\u0085\u2028\u2029]+/g, " ")
    .replace(/\t/g, " ")
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    .replace(/[\u0000-\u001f\u007f]/g, "")
    .trim();
}

/**
 * Renders an email: the subject (unescaped, one line), the HTML body (values escaped) and a
 * plain-text alternative (the HTML with tags stripped and basic entities decoded, values
 * inserted as they are). Problems in the subject and the body are reported together in one
 * `TemplateError`.
 */
export function renderEmail(email: EmailTemplate, context: TemplateContext): RenderedEmail {
  const subjectParts = partsOf(email.subject);
  const bodyParts = partsOf(email.template);
  const problems = new Map<string, VariableProblem>();
  for (const p of [...unresolvedVariables(subjectParts, context), ...unresolvedVariables(bodyParts, context)]) {
    if (!problems.has(p.path)) problems.set(p.path, p);
  }
  if (problems.size > 0) throw new TemplateError([...problems.values()]);

  const values = resolveAll(bodyParts, context);
  return {
    subject: toHeaderValue(renderTemplate(subjectParts, context, { escape: "none" })),
    html: renderTemplate(bodyParts, context, { escape: "html" }),
    text: plainText(bodyParts, values),
  };
}

// Private-use characters mark where values go while the HTML around them is converted, so a
// value is never itself stripped of "tags" or entity-decoded ("a <b> c" stays as written).
const MARK_OPEN = "\uE000";
const MARK_CLOSE = "\uE001";
const MARKS = /[\uE000\uE001]/g;

function plainText(parts: readonly TemplatePart[], values: ReadonlyMap<string, string>): string {
  const slots: string[] = [];
  const marked = parts
    .map((p) => {
      if (p.type === "text") return p.text.replace(MARKS, "");
      slots.push(values.get(p.path)!);
      return `${MARK_OPEN}${slots.length - 1}${MARK_CLOSE}`;
    })
    .join("");
  // A value inside a tag (an href) disappears with the tag, as the tag's other text does.
  return htmlToText(marked).replace(/\uE000(\d+)\uE001/g, (_, i: string) => slots[Number(i)]!);
}

const BLOCK_END = /<\/(?:p|div|h[1-6]|li|tr|table|ul|ol|blockquote|section|article|header|footer|pre)\s*>/gi;

/** A deliberately small HTML → text conversion: enough for a multipart alternative. */
export function htmlToText(html: string): string {
  const stripped = html
    .replace(/<!--[\s\S]*?-->/g, "")
    .replace(/<(script|style|head|title)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, "")
    .replace(/<br\s*\/?>/gi, "\n")
    .replace(/<hr\b[^>]*>/gi, "\n")
    .replace(/<li\b[^>]*>/gi, "- ")
    .replace(BLOCK_END, "\n")
    // Only `<` followed by a letter, `/` or `!` opens a tag, so "a < b" survives.
    .replace(/<\/?[A-Za-z][^>]*>/g, "")
    .replace(/<![^>]*>/g, "");
  const lines = stripped.split(/\r?\n/).map((line) => line.replace(/[ \t\f\v]+/g, " ").trim());
  return decodeEntities(lines.join("\n").replace(/\n{3,}/g, "\n\n").trim());
}

const NAMED_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

/** Decodes &amp; &lt; &gt; &quot; &apos; &nbsp; and numeric references, in one pass (no double decoding). */
export function decodeEntities(text: string): string {
  return text.replace(/&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]+);/g, (whole, ref: string) => {
    if (ref[0] !== "#") return NAMED_ENTITIES[ref] ?? whole;
    const code = ref[1] === "x" || ref[1] === "X" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    const valid = code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
    return valid ? String.fromCodePoint(code) : whole;
  });
}
