/**
 * Boolean expressions over segment ids for derived segments:
 *   expr  := or
 *   or    := and ("OR" and)*
 *   and   := unary ("AND" unary)*
 *   unary := "NOT" unary | "(" expr ")" | segmentId
 * NOT binds tighter than AND, AND tighter than OR. Keywords are case-insensitive.
 * Pure: no I/O.
 */

export type ExprNode =
  | { type: "segment"; id: string }
  | { type: "not"; operand: ExprNode }
  | { type: "and"; operands: ExprNode[] }
  | { type: "or"; operands: ExprNode[] };

export class ExpressionError extends Error {
  constructor(
    message: string,
    /** Zero-based character offset in the source text. */
    public readonly position: number,
  ) {
    super(message);
    this.name = "ExpressionError";
  }
}

export function assertNever(x: never): never {
  throw new Error(`unhandled variant: ${JSON.stringify(x)}`);
}

type Token =
  | { kind: "lparen" | "rparen" | "and" | "or" | "not" | "end"; pos: number }
  | { kind: "id"; value: string; pos: number };

const MAX_DEPTH = 64;
const ID_CHAR = /[A-Za-z0-9_-]/;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
    } else if (c === "(") {
      tokens.push({ kind: "lparen", pos: i++ });
    } else if (c === ")") {
      tokens.push({ kind: "rparen", pos: i++ });
    } else if (ID_CHAR.test(c)) {
      const start = i;
      while (i < text.length && ID_CHAR.test(text[i]!)) i++;
      const word = text.slice(start, i);
      const upper = word.toUpperCase();
      if (upper === "AND") tokens.push({ kind: "and", pos: start });
      else if (upper === "OR") tokens.push({ kind: "or", pos: start });
      else if (upper === "NOT") tokens.push({ kind: "not", pos: start });
      else tokens.push({ kind: "id", value: word, pos: start });
    } else {
      throw new ExpressionError(`unexpected character '${c}' at position ${i}`, i);
    }
  }
  tokens.push({ kind: "end", pos: text.length });
  return tokens;
}

function describe(t: Token): string {
  switch (t.kind) {
    case "id":
      return `'${t.value}'`;
    case "end":
      return "end of expression";
    case "lparen":
      return "'('";
    case "rparen":
      return "')'";
    default:
      return `'${t.kind.toUpperCase()}'`;
  }
}

/** Parses expression text into a tree; throws ExpressionError with the position of the problem. */
export function parseExpression(text: string): ExprNode {
  const tokens = tokenize(text);
  let at = 0;
  const peek = () => tokens[at]!;
  const next = () => tokens[at++]!;

  const parseOr = (depth: number): ExprNode => {
    const operands = [parseAnd(depth)];
    while (peek().kind === "or") {
      next();
      operands.push(parseAnd(depth));
    }
    return operands.length === 1 ? operands[0]! : { type: "or", operands: flatten("or", operands) };
  };
  const parseAnd = (depth: number): ExprNode => {
    const operands = [parseUnary(depth)];
    while (peek().kind === "and") {
      next();
      operands.push(parseUnary(depth));
    }
    return operands.length === 1 ? operands[0]! : { type: "and", operands: flatten("and", operands) };
  };
  const parseUnary = (depth: number): ExprNode => {
    if (depth > MAX_DEPTH) throw new ExpressionError(`expression nests deeper than ${MAX_DEPTH} levels`, peek().pos);
    const t = next();
    switch (t.kind) {
      case "not":
        return { type: "not", operand: parseUnary(depth + 1) };
      case "lparen": {
        const inner = parseOr(depth + 1);
        const close = next();
        if (close.kind !== "rparen") {
          throw new ExpressionError(`expected ')' to close '(' at position ${t.pos}, found ${describe(close)}`, close.pos);
        }
        return inner;
      }
      case "id":
        return { type: "segment", id: t.value };
      case "rparen":
      case "and":
      case "or":
      case "end":
        throw new ExpressionError(`expected a segment id, NOT or '(' at position ${t.pos}, found ${describe(t)}`, t.pos);
      default:
        return assertNever(t);
    }
  };

  const tree = parseOr(0);
  const rest = peek();
  if (rest.kind !== "end") {
    throw new ExpressionError(`unexpected ${describe(rest)} at position ${rest.pos}`, rest.pos);
  }
  return tree;
}

function flatten(kind: "and" | "or", operands: ExprNode[]): ExprNode[] {
  return operands.flatMap((o) => (o.type === kind ? o.operands : [o]));
}

const precedence = (n: ExprNode): number => {
  switch (n.type) {
    case "or":
      return 1;
    case "and":
      return 2;
    case "not":
      return 3;
    case "segment":
      return 4;
    default:
      return assertNever(n);
  }
};

/** Canonical text: upper-case keywords, single spaces, only the parentheses precedence needs. */
export function formatExpression(node: ExprNode): string {
  const wrap = (child: ExprNode, min: number) => {
    const s = formatExpression(child);
    return precedence(child) < min ? `(${s})` : s;
  };
  switch (node.type) {
    case "segment":
      return node.id;
    case "not":
      return `NOT ${wrap(node.operand, 3)}`;
    case "and":
      return node.operands.map((o) => wrap(o, 3)).join(" AND ");
    case "or":
      return node.operands.map((o) => wrap(o, 2)).join(" OR ");
    default:
      return assertNever(node);
  }
}

/** The distinct segment ids referenced, in order of first appearance. */
export function referencedSegments(node: ExprNode): string[] {
  const seen = new Set<string>();
  const walk = (n: ExprNode): void => {
    switch (n.type) {
      case "segment":
        seen.add(n.id);
        return;
      case "not":
        return walk(n.operand);
      case "and":
      case "or":
        return n.operands.forEach(walk);
      default:
        return assertNever(n);
    }
  };
  walk(node);
  return [...seen];
}

/** Evaluates the tree given each referenced segment's membership. */
export function evaluateExpression(node: ExprNode, isMember: (segmentId: string) => boolean): boolean {
  switch (node.type) {
    case "segment":
      return isMember(node.id);
    case "not":
      return !evaluateExpression(node.operand, isMember);
    case "and":
      return node.operands.every((o) => evaluateExpression(o, isMember));
    case "or":
      return node.operands.some((o) => evaluateExpression(o, isMember));
    default:
      return assertNever(node);
  }
}

/**
 * Finds a cycle that `segmentId → dependsOn` would close in the dependency graph.
 * `graph` maps each derived segment to the segments it references (excluding `segmentId`'s old
 * edges). Returns the cycle as a path starting and ending at segmentId, or null.
 */
export function findCycle(
  segmentId: string,
  dependsOn: readonly string[],
  graph: ReadonlyMap<string, readonly string[]>,
): string[] | null {
  const visited = new Set<string>();
  const path: string[] = [segmentId];
  const visit = (node: string): boolean => {
    if (node === segmentId) return true;
    if (visited.has(node)) return false;
    visited.add(node);
    path.push(node);
    for (const next of graph.get(node) ?? []) if (visit(next)) return true;
    path.pop();
    return false;
  };
  for (const dep of dependsOn) {
    if (visit(dep)) return [...path, segmentId];
  }
  return null;
}
