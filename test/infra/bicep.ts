/**
 * A small Bicep reader: enough of the language to find every declaration and read every literal setting,
 * so the policy rules (rules.ts) can check the templates without the Bicep CLI.
 *
 * It reads `param` (with decorators), `var`, `resource <sym> '<type>@<api>' [existing] = [if (...)] {...}`,
 * resource loops `[for x in xs: {...}]`, nested child resources, `module`, `output`, and `.bicepparam` files
 * (`using`, `param name = value`). Values are objects, arrays, strings (with `${...}` interpolation kept as
 * written, and `'''` multi-line strings), numbers, booleans, null, and "expressions": anything else (a
 * reference, a function call, a ternary), kept as source text with the literals found inside it. Comments are
 * kept with their positions so a rule can look for a `// justification:` next to a resource.
 *
 * It is a reader, not a compiler: it accepts some text the real CLI rejects, and it never evaluates anything.
 */

export class BicepSyntaxError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    detail: string,
  ) {
    super(`${file}:${line}:${column}: ${detail}`);
    this.name = 'BicepSyntaxError';
  }
}

// ---------------------------------------------------------------------------------------------- tokens

export type TokenKind = 'identifier' | 'string' | 'number' | 'punct' | 'newline' | 'eof';

export interface Token {
  kind: TokenKind;
  /** Source text of the token (for strings: with quotes). */
  text: string;
  start: number;
  end: number;
  line: number;
  /** Strings: the content with escapes decoded and `${...}` kept as written. */
  value?: string;
  /** Strings: the source text of each `${...}` hole. */
  interpolations?: string[];
}

export interface Comment {
  text: string;
  start: number;
  end: number;
  line: number;
}

const PUNCTUATION = [
  '...',
  '==',
  '!=',
  '>=',
  '<=',
  '&&',
  '||',
  '??',
  '=~',
  '!~',
  '.?',
  '::',
  '=>',
  '{',
  '}',
  '[',
  ']',
  '(',
  ')',
  ':',
  ',',
  '.',
  '?',
  '!',
  '=',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '@',
  '|',
];

const ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", n: '\n', r: '\r', t: '\t', $: '$' };

export function tokenize(source: string, file: string): { tokens: Token[]; comments: Comment[] } {
  const tokens: Token[] = [];
  const comments: Comment[] = [];
  let pos = 0;
  let line = 1;

  const fail = (at: number, detail: string): never => {
    const before = source.slice(0, at);
    const atLine = before.split('\n').length;
    const atColumn = at - before.lastIndexOf('\n');
    throw new BicepSyntaxError(file, atLine, atColumn, detail);
  };
  const countLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      if (source[i] === '\n') line++;
    }
  };

  /** Reads a `'...'` string from `open` (the quote); returns the index after the closing quote. */
  const readString = (open: number): { end: number; value: string; interpolations: string[] } => {
    let i = open + 1;
    let value = '';
    const interpolations: string[] = [];
    while (i < source.length) {
      const ch = source[i]!;
      if (ch === "'") return { end: i + 1, value, interpolations };
      if (ch === '\n') fail(open, 'unterminated string');
      if (ch === '\\') {
        const next = source[i + 1] ?? '';
        if (next === 'u' && source[i + 2] === '{') {
          const close = source.indexOf('}', i + 3);
          if (close < 0) fail(i, 'bad \\u{...} escape');
          value += String.fromCodePoint(parseInt(source.slice(i + 3, close), 16));
          i = close + 1;
          continue;
        }
        const decoded = ESCAPES[next];
        if (decoded === undefined) fail(i, `unknown escape \\${next}`);
        value += decoded;
        i += 2;
        continue;
      }
      if (ch === '$' && source[i + 1] === '{') {
        const holeStart = i + 2;
        let depth = 1;
        let j = holeStart;
        while (j < source.length && depth > 0) {
          const c = source[j]!;
          if (c === "'") {
            j = readString(j).end;
            continue;
          }
          if (c === '{') depth++;
          if (c === '}') depth--;
          if (c === '\n') fail(i, 'unterminated ${...} in string');
          j++;
        }
        if (depth !== 0) fail(i, 'unterminated ${...} in string');
        const hole = source.slice(holeStart, j - 1);
        interpolations.push(hole);
        value += '${' + hole + '}';
        i = j;
        continue;
      }
      value += ch;
      i++;
    }
    return fail(open, 'unterminated string');
  };

  while (pos < source.length) {
    const ch = source[pos]!;
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      pos++;
      continue;
    }
    if (ch === '\n') {
      tokens.push({ kind: 'newline', text: '\n', start: pos, end: pos + 1, line });
      pos++;
      line++;
      continue;
    }
    if (ch === '/' && source[pos + 1] === '/') {
      let end = source.indexOf('\n', pos);
      if (end < 0) end = source.length;
      comments.push({ text: source.slice(pos + 2, end).trim(), start: pos, end, line });
      pos = end;
      continue;
    }
    if (ch === '/' && source[pos + 1] === '*') {
      const close = source.indexOf('*/', pos + 2);
      if (close < 0) fail(pos, 'unterminated /* comment');
      comments.push({ text: source.slice(pos + 2, close).trim(), start: pos, end: close + 2, line });
      countLines(pos, close + 2);
      pos = close + 2;
      continue;
    }
    if (source.startsWith("'''", pos)) {
      const close = source.indexOf("'''", pos + 3);
      if (close < 0) fail(pos, "unterminated ''' string");
      let content = source.slice(pos + 3, close);
      // As in Bicep: a line break right after the opening quotes is not part of the value.
      content = content.replace(/^\r?\n/, '');
      const startLine = line;
      countLines(pos, close + 3);
      tokens.push({
        kind: 'string',
        text: source.slice(pos, close + 3),
        start: pos,
        end: close + 3,
        line: startLine,
        value: content,
        interpolations: [],
      });
      pos = close + 3;
      continue;
    }
    if (ch === "'") {
      const { end, value, interpolations } = readString(pos);
      tokens.push({ kind: 'string', text: source.slice(pos, end), start: pos, end, line, value, interpolations });
      pos = end;
      continue;
    }
    if (/[0-9]/.test(ch)) {
      const match = /^[0-9]+(\.[0-9]+)?/.exec(source.slice(pos))!;
      tokens.push({ kind: 'number', text: match[0], start: pos, end: pos + match[0].length, line });
      pos += match[0].length;
      continue;
    }
    if (/[A-Za-z_]/.test(ch)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(pos))!;
      tokens.push({ kind: 'identifier', text: match[0], start: pos, end: pos + match[0].length, line });
      pos += match[0].length;
      continue;
    }
    const punct = PUNCTUATION.find((p) => source.startsWith(p, pos));
    if (punct === undefined) fail(pos, `unexpected character ${JSON.stringify(ch)}`);
    tokens.push({ kind: 'punct', text: punct!, start: pos, end: pos + punct!.length, line });
    pos += punct!.length;
  }
  tokens.push({ kind: 'eof', text: '', start: source.length, end: source.length, line });
  return { tokens, comments };
}

// ---------------------------------------------------------------------------------------------- values

interface Span {
  start: number;
  end: number;
  line: number;
}

export interface BicepObject extends Span {
  kind: 'object';
  properties: BicepProperty[];
}
export interface BicepProperty extends Span {
  key: string;
  value: BicepValue;
}
export interface BicepArray extends Span {
  kind: 'array';
  items: BicepValue[];
}
/** A `[for item in source: body]` array. */
export interface BicepForArray extends Span {
  kind: 'for';
  itemName: string;
  source: string;
  condition?: string;
  body: BicepValue;
}
export interface BicepString extends Span {
  kind: 'string';
  value: string;
  interpolations: string[];
}
export interface BicepNumber extends Span {
  kind: 'number';
  value: number;
}
export interface BicepBool extends Span {
  kind: 'bool';
  value: boolean;
}
export interface BicepNull extends Span {
  kind: 'null';
}
/** Anything that is not a plain literal: kept as text, with the literal values found inside it. */
export interface BicepExpression extends Span {
  kind: 'expression';
  text: string;
  parts: BicepValue[];
}

export type BicepValue =
  | BicepObject
  | BicepArray
  | BicepForArray
  | BicepString
  | BicepNumber
  | BicepBool
  | BicepNull
  | BicepExpression;

export interface Decorator {
  name: string;
  args: BicepValue[];
}

// ---------------------------------------------------------------------------------------------- declarations

export interface BicepParam extends Span {
  name: string;
  type: string;
  defaultValue?: BicepValue;
  decorators: Decorator[];
}

export interface BicepVar extends Span {
  name: string;
  value: BicepValue;
}

export interface BicepResource extends Span {
  symbol: string;
  /** Full resource type, e.g. `Microsoft.Storage/storageAccounts/blobServices`, also for nested children. */
  type: string;
  apiVersion: string;
  existing: boolean;
  /** Text of the `if (...)` condition, when the resource is conditional. */
  condition?: string;
  /** The loop, when the resource is declared with `[for item in source: ...]`. */
  loop?: { itemName: string; source: string };
  body: BicepObject;
  decorators: Decorator[];
  /** Symbol of the resource this one is declared inside (nested child resources). */
  lexicalParent?: string;
  /** Comments right above the declaration (and its decorators) and inside its body. */
  comments: Comment[];
}

export interface BicepModule extends Span {
  symbol: string;
  path: string;
  condition?: string;
  body: BicepObject;
}

export interface BicepOutput extends Span {
  name: string;
  type: string;
  value: BicepValue;
}

/** `param name = value` in a `.bicepparam` file. */
export interface BicepParamAssignment extends Span {
  name: string;
  value: BicepValue;
}

export interface BicepFile {
  path: string;
  source: string;
  targetScope?: string;
  using?: string;
  params: BicepParam[];
  paramAssignments: BicepParamAssignment[];
  vars: BicepVar[];
  resources: BicepResource[];
  modules: BicepModule[];
  outputs: BicepOutput[];
  comments: Comment[];
}

// ---------------------------------------------------------------------------------------------- parser

const CONTINUATION = new Set(['?', ':', '.', '.?', '&&', '||', '??', '==', '!=']);

class Parser {
  private index = 0;
  private readonly file: BicepFile;

  constructor(
    private readonly tokens: Token[],
    private readonly comments: Comment[],
    private readonly source: string,
    private readonly path: string,
  ) {
    this.file = {
      path,
      source,
      params: [],
      paramAssignments: [],
      vars: [],
      resources: [],
      modules: [],
      outputs: [],
      comments,
    };
  }

  parseFile(): BicepFile {
    let decorators: Decorator[] = [];
    let declarationStart: number | undefined;
    for (;;) {
      this.skipNewlines();
      const token = this.peek();
      if (token.kind === 'eof') break;
      if (this.isPunct(token, '@')) {
        declarationStart ??= token.start;
        decorators.push(this.parseDecorator());
        continue;
      }
      if (token.kind !== 'identifier') this.fail(token, `expected a declaration, found ${JSON.stringify(token.text)}`);
      const start = declarationStart ?? token.start;
      switch (token.text) {
        case 'targetScope': {
          this.next();
          this.expectPunct('=');
          const value = this.parseExpression(true);
          this.file.targetScope = value.kind === 'string' ? value.value : this.text(value);
          break;
        }
        case 'using': {
          this.next();
          const path = this.expect('string');
          this.file.using = path.value;
          this.skipToEndOfStatement();
          break;
        }
        case 'param':
          this.parseParam(decorators, start);
          break;
        case 'var': {
          this.next();
          const name = this.expect('identifier').text;
          this.readUntilPunct('=');
          this.expectPunct('=');
          const value = this.parseExpression(true);
          this.file.vars.push({ name, value, start, end: value.end, line: token.line });
          break;
        }
        case 'resource':
          this.parseResource(decorators, start, undefined);
          break;
        case 'module':
          this.parseModule(start);
          break;
        case 'output': {
          this.next();
          const name = this.expect('identifier').text;
          const type = this.readUntilPunct('=');
          this.expectPunct('=');
          const value = this.parseExpression(true);
          this.file.outputs.push({ name, type, value, start, end: value.end, line: token.line });
          break;
        }
        case 'import':
        case 'type':
        case 'func':
        case 'metadata':
        case 'extension':
        case 'provider':
        case 'assert':
          this.next();
          this.skipToEndOfStatement();
          break;
        default:
          this.fail(token, `unknown declaration ${JSON.stringify(token.text)}`);
      }
      decorators = [];
      declarationStart = undefined;
    }
    return this.file;
  }

  // -- declarations

  private parseParam(decorators: Decorator[], start: number): void {
    const keyword = this.next();
    const name = this.expect('identifier').text;
    if (this.isPunct(this.peek(), '=')) {
      // .bicepparam: `param name = value`
      this.next();
      const value = this.parseExpression(true);
      this.file.paramAssignments.push({ name, value, start, end: value.end, line: keyword.line });
      return;
    }
    const type = this.readUntilPunct('=');
    let defaultValue: BicepValue | undefined;
    if (this.isPunct(this.peek(), '=')) {
      this.next();
      defaultValue = this.parseExpression(true);
    }
    const end = defaultValue?.end ?? this.tokens[this.index - 1]!.end;
    this.file.params.push({ name, type, defaultValue, decorators, start, end, line: keyword.line });
  }

  private parseResource(
    decorators: Decorator[],
    start: number,
    parent: { symbol: string; type: string; apiVersion: string } | undefined,
  ): void {
    const keyword = this.next();
    const symbol = this.expect('identifier').text;
    const typeToken = this.expect('string');
    const typeText = typeToken.value ?? '';
    const at = typeText.lastIndexOf('@');
    let type = at >= 0 ? typeText.slice(0, at) : typeText;
    let apiVersion = at >= 0 ? typeText.slice(at + 1) : '';
    if (parent && !type.includes('.')) {
      type = `${parent.type}/${type}`;
      if (!apiVersion) apiVersion = parent.apiVersion;
    }
    if (!apiVersion) this.fail(typeToken, `resource ${symbol} has no API version`);
    let existing = false;
    if (this.peek().kind === 'identifier' && this.peek().text === 'existing') {
      this.next();
      existing = true;
    }
    this.expectPunct('=');
    const self = { symbol, type, apiVersion };
    let condition: string | undefined;
    let loop: { itemName: string; source: string } | undefined;
    let body: BicepObject;
    if (this.isIdentifier(this.peek(), 'if')) {
      condition = this.parseIfCondition();
      body = this.parseObject(self);
    } else if (this.isPunct(this.peek(), '[')) {
      const forArray = this.parseArray(self);
      if (forArray.kind !== 'for' || forArray.body.kind !== 'object') {
        this.fail(typeToken, `resource ${symbol}: expected {...} or [for ...: {...}]`);
      }
      loop = { itemName: forArray.itemName, source: forArray.source };
      condition = forArray.condition;
      body = forArray.body as BicepObject;
    } else {
      body = this.parseObject(self);
    }
    const end = body.end;
    this.file.resources.push({
      symbol,
      type,
      apiVersion,
      existing,
      condition,
      loop,
      body,
      decorators,
      lexicalParent: parent?.symbol,
      comments: this.commentsFor(start, end),
      start,
      end,
      line: keyword.line,
    });
  }

  private parseModule(start: number): void {
    const keyword = this.next();
    const symbol = this.expect('identifier').text;
    const path = this.expect('string').value ?? '';
    this.expectPunct('=');
    let condition: string | undefined;
    let body: BicepObject;
    if (this.isIdentifier(this.peek(), 'if')) {
      condition = this.parseIfCondition();
      body = this.parseObject(undefined);
    } else if (this.isPunct(this.peek(), '[')) {
      const forArray = this.parseArray(undefined);
      if (forArray.kind !== 'for' || forArray.body.kind !== 'object') this.fail(keyword, `module ${symbol}: bad loop`);
      body = forArray.body as BicepObject;
    } else {
      body = this.parseObject(undefined);
    }
    this.file.modules.push({ symbol, path, condition, body, start, end: body.end, line: keyword.line });
  }

  private parseDecorator(): Decorator {
    this.expectPunct('@');
    let name = this.expect('identifier').text;
    while (this.isPunct(this.peek(), '.')) {
      this.next();
      name += '.' + this.expect('identifier').text;
    }
    let args: BicepValue[] = [];
    if (this.isPunct(this.peek(), '(')) args = this.parseParenthesized().values;
    return { name: name.replace(/^sys\./, ''), args };
  }

  /** `if (condition)`: returns the condition text. */
  private parseIfCondition(): string {
    this.next(); // if
    const open = this.peek();
    const { end } = this.parseParenthesized();
    return this.source.slice(open.start + 1, end - 1).trim();
  }

  // -- values

  /**
   * One value. A line break ends it (unless `newlineEnds` is false, inside parentheses), except where the next
   * line continues it with an operator (`? a`, `: b`, `.prop`, `&& x`).
   */
  private parseExpression(newlineEnds: boolean): BicepValue {
    const first = this.peek();
    const parts: BicepValue[] = [];
    const atoms: Token[] = [];
    let count = 0;
    let end = first.start;
    for (;;) {
      const token = this.peek();
      if (token.kind === 'eof') break;
      if (token.kind === 'newline') {
        const after = this.peekPastNewlines();
        if (count > 0 && after.kind === 'punct' && CONTINUATION.has(after.text)) {
          this.skipNewlines();
          continue;
        }
        if (newlineEnds) break;
        this.skipNewlines();
        continue;
      }
      if (token.kind === 'punct' && [',', '}', ']', ')'].includes(token.text)) break;
      if (this.isPunct(token, '{')) {
        const value = this.parseObject(undefined);
        parts.push(value);
        end = value.end;
      } else if (this.isPunct(token, '[')) {
        const value = this.parseArray(undefined);
        parts.push(value);
        end = value.end;
      } else if (this.isPunct(token, '(')) {
        const inner = this.parseParenthesized();
        parts.push(...inner.values);
        end = inner.end;
      } else if (token.kind === 'string') {
        this.next();
        parts.push({
          kind: 'string',
          value: token.value ?? '',
          interpolations: token.interpolations ?? [],
          start: token.start,
          end: token.end,
          line: token.line,
        });
        atoms.push(token);
        end = token.end;
      } else {
        this.next();
        atoms.push(token);
        end = token.end;
      }
      count++;
    }
    if (count === 0) this.fail(first, `expected a value, found ${JSON.stringify(first.text)}`);
    const span = { start: first.start, end, line: first.line };
    if (count === 1 && parts.length === 1) return parts[0]!;
    if (count === 1 && atoms.length === 1) {
      const atom = atoms[0]!;
      if (atom.kind === 'number') return { kind: 'number', value: Number(atom.text), ...span };
      if (atom.kind === 'identifier' && (atom.text === 'true' || atom.text === 'false')) {
        return { kind: 'bool', value: atom.text === 'true', ...span };
      }
      if (atom.kind === 'identifier' && atom.text === 'null') return { kind: 'null', ...span };
    }
    if (count === 2 && atoms.length === 2 && atoms[0]!.text === '-' && atoms[1]!.kind === 'number') {
      return { kind: 'number', value: -Number(atoms[1]!.text), ...span };
    }
    return { kind: 'expression', text: this.source.slice(first.start, end), parts, ...span };
  }

  /** `( a, b, ... )`: line breaks inside are insignificant. */
  private parseParenthesized(): { values: BicepValue[]; end: number } {
    this.expectPunct('(');
    const values: BicepValue[] = [];
    for (;;) {
      this.skipNewlines();
      if (this.isPunct(this.peek(), ')')) break;
      if (this.isPunct(this.peek(), ',')) {
        this.next();
        continue;
      }
      values.push(this.parseExpression(false));
    }
    const close = this.expectPunct(')');
    return { values, end: close.end };
  }

  private parseObject(owner: { symbol: string; type: string; apiVersion: string } | undefined): BicepObject {
    const open = this.expectPunct('{');
    const properties: BicepProperty[] = [];
    let decorators: Decorator[] = [];
    let memberStart: number | undefined;
    for (;;) {
      this.skipNewlines();
      const token = this.peek();
      if (this.isPunct(token, '}')) break;
      if (this.isPunct(token, ',')) {
        this.next();
        continue;
      }
      if (token.kind === 'eof') this.fail(open, 'unterminated object');
      if (this.isPunct(token, '@')) {
        memberStart ??= token.start;
        decorators.push(this.parseDecorator());
        continue;
      }
      // A nested child resource: `resource <symbol> '<type>' = ...` (a property may also be called `resource`).
      if (owner && this.isIdentifier(token, 'resource') && this.peekAt(1).kind === 'identifier') {
        this.parseResource(decorators, memberStart ?? token.start, owner);
        decorators = [];
        memberStart = undefined;
        continue;
      }
      let key: string;
      if (token.kind === 'identifier') key = token.text;
      else if (token.kind === 'string') key = token.value ?? '';
      else this.fail(token, `expected a property name, found ${JSON.stringify(token.text)}`);
      this.next();
      this.expectPunct(':');
      const value = this.parseExpression(true);
      properties.push({ key: key!, value, start: token.start, end: value.end, line: token.line });
      decorators = [];
      memberStart = undefined;
    }
    const close = this.expectPunct('}');
    return { kind: 'object', properties, start: open.start, end: close.end, line: open.line };
  }

  private parseArray(owner: { symbol: string; type: string; apiVersion: string } | undefined): BicepArray | BicepForArray {
    const open = this.expectPunct('[');
    this.skipNewlines();
    if (this.isIdentifier(this.peek(), 'for')) {
      this.next();
      const itemText = this.readUntilIdentifier('in');
      this.next(); // in
      const source = this.readUntilPunct(':', true);
      this.expectPunct(':');
      this.skipNewlines();
      let condition: string | undefined;
      if (this.isIdentifier(this.peek(), 'if')) condition = this.parseIfCondition();
      const body = this.isPunct(this.peek(), '{') && owner ? this.parseObject(owner) : this.parseExpression(false);
      this.skipNewlines();
      const close = this.expectPunct(']');
      const itemName = itemText.replace(/[()]/g, '').split(',')[0]!.trim();
      return { kind: 'for', itemName, source, condition, body, start: open.start, end: close.end, line: open.line };
    }
    const items: BicepValue[] = [];
    for (;;) {
      this.skipNewlines();
      const token = this.peek();
      if (this.isPunct(token, ']')) break;
      if (this.isPunct(token, ',')) {
        this.next();
        continue;
      }
      if (token.kind === 'eof') this.fail(open, 'unterminated array');
      items.push(this.parseExpression(true));
    }
    const close = this.expectPunct(']');
    return { kind: 'array', items, start: open.start, end: close.end, line: open.line };
  }

  // -- helpers

  /** Comments directly above `start` (contiguous comment lines) and inside [start, end]. */
  private commentsFor(start: number, end: number): Comment[] {
    const inside = this.comments.filter((c) => c.start >= start && c.end <= end);
    const above: Comment[] = [];
    let boundary = start;
    for (let i = this.comments.length - 1; i >= 0; i--) {
      const comment = this.comments[i]!;
      if (comment.end > boundary) continue;
      const between = this.source.slice(comment.end, boundary);
      if (between.trim() !== '' || (between.match(/\n/g) ?? []).length > 1) break;
      above.unshift(comment);
      boundary = comment.start;
    }
    return [...above, ...inside];
  }

  /** Raw text up to `stop` at bracket depth 0 (or a line break); does not consume `stop`. */
  private readUntilPunct(stop: string, allowNewlines = false): string {
    const startToken = this.peek();
    let depth = 0;
    let pendingTernaries = 0;
    let end = startToken.start;
    for (;;) {
      const token = this.peek();
      if (token.kind === 'eof') break;
      if (token.kind === 'newline' && depth === 0 && !allowNewlines) break;
      if (depth === 0 && this.isPunct(token, stop)) {
        if (stop === ':' && pendingTernaries > 0) pendingTernaries--;
        else break;
      }
      if (token.kind === 'punct') {
        if (['(', '[', '{'].includes(token.text)) depth++;
        if ([')', ']', '}'].includes(token.text)) depth--;
        if (token.text === '?' && depth === 0) pendingTernaries++;
      }
      this.next();
      end = token.end;
    }
    return this.source.slice(startToken.start, end).trim();
  }

  private readUntilIdentifier(word: string): string {
    const startToken = this.peek();
    let end = startToken.start;
    while (!this.isIdentifier(this.peek(), word)) {
      const token = this.next();
      if (token.kind === 'eof') this.fail(startToken, `expected ${word}`);
      end = token.end;
    }
    return this.source.slice(startToken.start, end).trim();
  }

  private skipToEndOfStatement(): void {
    let depth = 0;
    for (;;) {
      const token = this.peek();
      if (token.kind === 'eof') return;
      if (token.kind === 'newline' && depth === 0) return;
      if (token.kind === 'punct') {
        if (['(', '[', '{'].includes(token.text)) depth++;
        if ([')', ']', '}'].includes(token.text)) depth--;
      }
      this.next();
    }
  }

  private text(value: BicepValue): string {
    return this.source.slice(value.start, value.end);
  }

  private peek(): Token {
    return this.tokens[this.index]!;
  }
  private peekAt(offset: number): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)]!;
  }
  private peekPastNewlines(): Token {
    let i = this.index;
    while (this.tokens[i]!.kind === 'newline') i++;
    return this.tokens[i]!;
  }
  private next(): Token {
    const token = this.tokens[this.index]!;
    if (token.kind !== 'eof') this.index++;
    return token;
  }
  private skipNewlines(): void {
    while (this.peek().kind === 'newline') this.next();
  }
  private isPunct(token: Token, text: string): boolean {
    return token.kind === 'punct' && token.text === text;
  }
  private isIdentifier(token: Token, text: string): boolean {
    return token.kind === 'identifier' && token.text === text;
  }
  private expect(kind: TokenKind): Token {
    const token = this.peek();
    if (token.kind !== kind) this.fail(token, `expected ${kind}, found ${JSON.stringify(token.text)}`);
    return this.next();
  }
  private expectPunct(text: string): Token {
    const token = this.peek();
    if (!this.isPunct(token, text)) this.fail(token, `expected ${JSON.stringify(text)}, found ${JSON.stringify(token.text)}`);
    return this.next();
  }
  private fail(token: Token, detail: string): never {
    const before = this.source.slice(0, token.start);
    throw new BicepSyntaxError(this.path, before.split('\n').length, token.start - before.lastIndexOf('\n'), detail);
  }
}

export function parseBicep(source: string, path: string): BicepFile {
  const { tokens, comments } = tokenize(source, path);
  return new Parser(tokens, comments, source, path).parseFile();
}

// ---------------------------------------------------------------------------------------------- queries

/** The value at a dotted path of object keys (`properties.siteConfig.minTlsVersion`), if every step is an object. */
export function valueAt(value: BicepValue | undefined, path: string): BicepValue | undefined {
  let current = value;
  for (const key of path.split('.')) {
    if (current?.kind !== 'object') return undefined;
    current = current.properties.find((p) => p.key === key)?.value;
  }
  return current;
}

/** A plain literal (string without interpolation, number, bool, null), else undefined. */
export function literalOf(value: BicepValue | undefined): string | number | boolean | null | undefined {
  if (!value) return undefined;
  switch (value.kind) {
    case 'string':
      return value.interpolations.length === 0 ? value.value : undefined;
    case 'number':
    case 'bool':
      return value.value;
    case 'null':
      return null;
    default:
      return undefined;
  }
}

/** Source text of a value, as written. */
export function sourceOf(file: BicepFile, value: BicepValue): string {
  return file.source.slice(value.start, value.end);
}

/** How a value reads in a message: literals as Bicep would print them, anything else as written. */
export function describeValue(file: BicepFile, value: BicepValue | undefined): string {
  if (!value) return 'not set';
  const literal = literalOf(value);
  if (typeof literal === 'string') return `'${literal}'`;
  if (literal !== undefined) return String(literal);
  const text = sourceOf(file, value).replace(/\s+/g, ' ');
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Every value nested in a value (itself included): objects, arrays, loop bodies, expression parts. */
export function* walkValues(value: BicepValue): Generator<BicepValue> {
  yield value;
  switch (value.kind) {
    case 'object':
      for (const property of value.properties) yield* walkValues(property.value);
      break;
    case 'array':
      for (const item of value.items) yield* walkValues(item);
      break;
    case 'for':
      yield* walkValues(value.body);
      break;
    case 'expression':
      for (const part of value.parts) yield* walkValues(part);
      break;
    default:
      break;
  }
}

/** True when a value is exactly a reference to `name` (a param, var or loop item). */
export function isReferenceTo(value: BicepValue | undefined, name: string): boolean {
  return value?.kind === 'expression' && value.text.trim() === name;
}
