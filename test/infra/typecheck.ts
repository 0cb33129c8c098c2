/**
 * A type check of the Bicep under infra/, for a machine without the Bicep CLI: what `bicep build` would refuse,
 * as far as the templates' text and Azure's published resource schemas (schemas.ts) can tell.
 *
 * It reports, with file and line:
 * - unknown-property: a property the resource type's schema does not have (a misspelling), at any depth of a
 *   resource body written as literals, with the nearest known name;
 * - readonly-property: a property the schema marks read-only (set by Azure, not by a template);
 * - invalid-enum: a literal (or each literal branch of a ternary) outside the values the schema lists: closed
 *   enums as Bicep does, and open ("extensible") enums too, which Bicep would let through;
 * - type-mismatch: a value whose type is known (a literal, a parameter, a module output, a function result) where
 *   the schema, a module parameter or an output declares another primitive type;
 * - missing-required: a property the schema requires, absent from an object written as literals;
 * - param-constraint: a literal passed to a module parameter or set in a .bicepparam file outside its @allowed,
 *   @minValue/@maxValue or @minLength/@maxLength;
 * - undefined-symbol: a name no parameter, variable, resource, module, loop or lambda declares;
 * - unknown-function: a function Bicep does not have;
 * - duplicate-property / duplicate-declaration: a key twice in one object, a name declared twice in one file.
 *
 * What it cannot see, and only `bicep build` would catch, is listed in docs/operations.md, "Checking the templates".
 */
import path from 'node:path';
import { tokenize, walkValues, type BicepFile, type BicepObject, type BicepResource, type BicepValue, type Token } from './bicep';
import type { InfraProject } from './rules';
import { loadSchemas, type ResourceSchema, type SchemaObject, type SchemaType } from './schemas';

export type DiagnosticCode =
  | 'unknown-property'
  | 'readonly-property'
  | 'invalid-enum'
  | 'type-mismatch'
  | 'missing-required'
  | 'param-constraint'
  | 'undefined-symbol'
  | 'unknown-function'
  | 'duplicate-property'
  | 'duplicate-declaration'
  | 'unknown-resource-type';

export interface Diagnostic {
  code: DiagnosticCode;
  file: string;
  line: number;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}: [${d.code}] ${d.message}`;
}

/**
 * Bicep's functions ("Bicep functions", https://learn.microsoft.com/azure/azure-resource-manager/bicep/bicep-functions,
 * read 2026-12-04), with what each returns when it matters for the type check. Resource methods
 * (`resource.listKeys()`, `vault.getSecret()`) are checked separately.
 */
const FUNCTIONS: Record<string, Kind> = {
  // any / conversion
  any: 'any',
  array: 'array',
  bool: 'bool',
  int: 'int',
  string: 'string',
  json: 'any',
  // arrays and objects
  concat: 'any',
  contains: 'bool',
  empty: 'bool',
  filter: 'array',
  first: 'any',
  flatten: 'array',
  groupBy: 'object',
  indexOf: 'int',
  intersection: 'any',
  items: 'array',
  join: 'string',
  last: 'any',
  lastIndexOf: 'int',
  length: 'int',
  map: 'array',
  mapValues: 'object',
  max: 'int',
  min: 'int',
  objectKeys: 'array',
  range: 'array',
  reduce: 'any',
  shallowMerge: 'object',
  skip: 'any',
  sort: 'array',
  take: 'any',
  toObject: 'object',
  tryGet: 'any',
  union: 'any',
  coalesce: 'any',
  // strings
  base64: 'string',
  base64ToJson: 'any',
  base64ToString: 'string',
  dataUri: 'string',
  dataUriToString: 'string',
  endsWith: 'bool',
  format: 'string',
  guid: 'string',
  newGuid: 'string',
  padLeft: 'string',
  replace: 'string',
  split: 'array',
  startsWith: 'bool',
  substring: 'string',
  toLower: 'string',
  toUpper: 'string',
  trim: 'string',
  uniqueString: 'string',
  uri: 'string',
  uriComponent: 'string',
  uriComponentToString: 'string',
  buildUri: 'string',
  parseUri: 'object',
  // dates
  dateTimeAdd: 'string',
  dateTimeFromEpoch: 'string',
  dateTimeToEpoch: 'int',
  utcNow: 'string',
  // CIDR
  cidrHost: 'string',
  cidrSubnet: 'string',
  parseCidr: 'object',
  // deployment and scope
  deployment: 'object',
  deployer: 'object',
  environment: 'object',
  managementGroup: 'object',
  resourceGroup: 'object',
  subscription: 'object',
  tenant: 'object',
  // resources
  extensionResourceId: 'string',
  managementGroupResourceId: 'string',
  pickZones: 'array',
  providers: 'object',
  reference: 'object',
  resourceId: 'string',
  subscriptionResourceId: 'string',
  tenantResourceId: 'string',
  // files (compile time)
  loadFileAsBase64: 'string',
  loadJsonContent: 'any',
  loadYamlContent: 'any',
  loadTextContent: 'string',
  // logical
  fail: 'any',
  // .bicepparam files only
  readEnvironmentVariable: 'string',
  externalInput: 'any',
  getSecret: 'string',
};

type Kind = 'string' | 'int' | 'bool' | 'object' | 'array' | 'any' | 'null';

// ---------------------------------------------------------------------------------------------- expressions

type Expr =
  | { kind: 'literal'; type: Kind; value?: string | number | boolean; line: number }
  | { kind: 'template'; holes: Expr[]; line: number }
  | { kind: 'ident'; name: string; line: number }
  | { kind: 'member'; object: Expr; name: string; line: number }
  | { kind: 'index'; object: Expr; index: Expr; line: number }
  | { kind: 'call'; callee: Expr; args: Expr[]; line: number }
  | { kind: 'unary'; op: string; operand: Expr; line: number }
  | { kind: 'binary'; op: string; left: Expr; right: Expr; line: number }
  | { kind: 'ternary'; condition: Expr; then: Expr; otherwise: Expr; line: number }
  | { kind: 'object'; properties: { key: string; value: Expr; line: number }[]; line: number }
  | { kind: 'array'; items: Expr[]; line: number }
  | { kind: 'for'; variables: string[]; source: Expr; condition?: Expr; body: Expr; line: number }
  | { kind: 'lambda'; params: string[]; body: Expr; line: number };

const BINARY_PRECEDENCE: [string[], number][] = [
  [['??'], 1],
  [['||'], 2],
  [['&&'], 3],
  [['==', '!=', '=~', '!~'], 4],
  [['<', '<=', '>', '>='], 5],
  [['+', '-'], 6],
  [['*', '/', '%'], 7],
];

function precedence(op: string): number {
  return BINARY_PRECEDENCE.find(([ops]) => ops.includes(op))?.[1] ?? 0;
}

class ExpressionParser {
  private index = 0;
  private readonly tokens: Token[];

  constructor(
    text: string,
    private readonly file: string,
    private readonly firstLine: number,
  ) {
    this.tokens = tokenize(text, file).tokens.filter((t) => t.kind !== 'newline');
  }

  parse(): Expr {
    const expr = this.ternary();
    if (this.peek().kind !== 'eof') throw this.error(`unexpected ${JSON.stringify(this.peek().text)}`);
    return expr;
  }

  private line(token: Token): number {
    return this.firstLine + token.line - 1;
  }

  private ternary(): Expr {
    const condition = this.binary(1);
    if (this.isPunct('?')) {
      const at = this.next();
      const then = this.ternary();
      this.expectPunct(':');
      const otherwise = this.ternary();
      return { kind: 'ternary', condition, then, otherwise, line: this.line(at) };
    }
    return condition;
  }

  private binary(minimum: number): Expr {
    let left = this.unary();
    for (;;) {
      const token = this.peek();
      const p = token.kind === 'punct' ? precedence(token.text) : 0;
      if (p === 0 || p < minimum) return left;
      this.next();
      const right = this.binary(p + 1);
      left = { kind: 'binary', op: token.text, left, right, line: this.line(token) };
    }
  }

  private unary(): Expr {
    if (this.isPunct('!') || this.isPunct('-')) {
      const op = this.next();
      return { kind: 'unary', op: op.text, operand: this.unary(), line: this.line(op) };
    }
    return this.postfix(this.primary());
  }

  private postfix(start: Expr): Expr {
    let expr = start;
    for (;;) {
      if (this.isPunct('.') || this.isPunct('.?')) {
        this.next();
        const name = this.next();
        expr = { kind: 'member', object: expr, name: name.text, line: this.line(name) };
      } else if (this.isPunct('[')) {
        const open = this.next();
        if (this.isPunct('?')) this.next();
        const index = this.ternary();
        this.expectPunct(']');
        expr = { kind: 'index', object: expr, index, line: this.line(open) };
      } else if (this.isPunct('(')) {
        const open = this.next();
        const args: Expr[] = [];
        while (!this.isPunct(')')) {
          args.push(this.ternary());
          if (this.isPunct(',')) this.next();
        }
        this.next();
        expr = { kind: 'call', callee: expr, args, line: this.line(open) };
      } else if (this.isPunct('!') && this.peekAt(1).kind === 'punct' && ['.', '[', '.?'].includes(this.peekAt(1).text)) {
        this.next(); // non-null assertion `x!.y`
      } else if (this.isPunct('!') && (this.peekAt(1).kind === 'eof' || [')', ']', '}', ',', ':', '?'].includes(this.peekAt(1).text))) {
        this.next();
      } else {
        return expr;
      }
    }
  }

  private primary(): Expr {
    const token = this.peek();
    const line = this.line(token);
    if (token.kind === 'number') {
      this.next();
      return { kind: 'literal', type: 'int', value: Number(token.text), line };
    }
    if (token.kind === 'string') {
      this.next();
      const holes = (token.interpolations ?? []).map((hole) => new ExpressionParser(hole, this.file, line).parse());
      if (holes.length > 0) return { kind: 'template', holes, line };
      return { kind: 'literal', type: 'string', value: token.value ?? '', line };
    }
    if (token.kind === 'identifier') {
      // Lambda with one parameter: `x => body`.
      if (this.peekAt(1).kind === 'punct' && this.peekAt(1).text === '=>') {
        this.next();
        this.next();
        return { kind: 'lambda', params: [token.text], body: this.ternary(), line };
      }
      this.next();
      if (token.text === 'true' || token.text === 'false') return { kind: 'literal', type: 'bool', value: token.text === 'true', line };
      if (token.text === 'null') return { kind: 'literal', type: 'null', line };
      return { kind: 'ident', name: token.text, line };
    }
    if (this.isPunct('(')) {
      // `(a, b) => body` or a parenthesised expression.
      const close = this.findClose(this.index, '(', ')');
      if (this.tokens[close + 1]?.text === '=>') {
        const params = this.tokens.slice(this.index + 1, close).filter((t) => t.kind === 'identifier').map((t) => t.text);
        this.index = close + 2;
        return { kind: 'lambda', params, body: this.ternary(), line };
      }
      this.next();
      const inner = this.ternary();
      this.expectPunct(')');
      return inner;
    }
    if (this.isPunct('{')) return this.object();
    if (this.isPunct('[')) return this.array();
    throw this.error(`unexpected ${JSON.stringify(token.text)}`);
  }

  private object(): Expr {
    const open = this.next();
    const properties: { key: string; value: Expr; line: number }[] = [];
    while (!this.isPunct('}')) {
      if (this.isPunct(',')) {
        this.next();
        continue;
      }
      if (this.isPunct('@')) {
        // A decorator on a property (`@description('...')`): skip it.
        this.next();
        this.next();
        if (this.isPunct('(')) this.index = this.findClose(this.index, '(', ')') + 1;
        continue;
      }
      const key = this.next();
      if (key.kind !== 'identifier' && key.kind !== 'string') throw this.error(`expected a property name, found ${JSON.stringify(key.text)}`);
      this.expectPunct(':');
      properties.push({ key: key.kind === 'string' ? (key.value ?? '') : key.text, value: this.ternary(), line: this.line(key) });
    }
    this.next();
    return { kind: 'object', properties, line: this.line(open) };
  }

  private array(): Expr {
    const open = this.next();
    if (this.peek().kind === 'identifier' && this.peek().text === 'for') {
      this.next();
      const variables: string[] = [];
      while (!(this.peek().kind === 'identifier' && this.peek().text === 'in')) {
        const token = this.next();
        if (token.kind === 'identifier') variables.push(token.text);
        if (token.kind === 'eof') throw this.error('expected in');
      }
      this.next();
      const source = this.ternary();
      this.expectPunct(':');
      let condition: Expr | undefined;
      if (this.peek().kind === 'identifier' && this.peek().text === 'if') {
        this.next();
        this.expectPunct('(');
        condition = this.ternary();
        this.expectPunct(')');
      }
      const body = this.ternary();
      this.expectPunct(']');
      return { kind: 'for', variables, source, condition, body, line: this.line(open) };
    }
    const items: Expr[] = [];
    while (!this.isPunct(']')) {
      if (this.isPunct(',')) {
        this.next();
        continue;
      }
      items.push(this.ternary());
    }
    this.next();
    return { kind: 'array', items, line: this.line(open) };
  }

  private findClose(from: number, open: string, close: string): number {
    let depth = 0;
    for (let i = from; i < this.tokens.length; i++) {
      const t = this.tokens[i]!;
      if (t.kind === 'punct' && t.text === open) depth++;
      if (t.kind === 'punct' && t.text === close) {
        depth--;
        if (depth === 0) return i;
      }
    }
    throw this.error(`unclosed ${open}`);
  }

  private peek(): Token {
    return this.tokens[this.index]!;
  }
  private peekAt(offset: number): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)]!;
  }
  private next(): Token {
    const token = this.tokens[this.index]!;
    if (token.kind !== 'eof') this.index++;
    return token;
  }
  private isPunct(text: string): boolean {
    const token = this.peek();
    return token.kind === 'punct' && token.text === text;
  }
  private expectPunct(text: string): void {
    if (!this.isPunct(text)) throw this.error(`expected ${JSON.stringify(text)}, found ${JSON.stringify(this.peek().text)}`);
    this.next();
  }
  private error(detail: string): Error {
    return new Error(`${this.file}:${this.line(this.peek())}: cannot read the expression: ${detail}`);
  }
}

// ---------------------------------------------------------------------------------------------- the checker

/** Keys Bicep accepts on every resource body besides the schema's (https://learn.microsoft.com/azure/azure-resource-manager/bicep/resource-declaration, read 2026-12-04). */
const RESOURCE_KEYWORDS = ['name', 'parent', 'scope', 'dependsOn'];
/** The resource envelope every tracked resource has, whatever a package's model omits (base models of the oldest generator). */
const ENVELOPE = ['location', 'tags'];

interface Scope {
  file: BicepFile;
  names: Set<string>;
}

function kindOfSchema(type: SchemaType): Kind {
  switch (type.kind) {
    case 'string':
      return 'string';
    case 'int':
      return 'int';
    case 'bool':
      return 'bool';
    case 'array':
      return 'array';
    case 'object':
      return 'object';
    default:
      return 'any';
  }
}

function kindOfDeclared(type: string): Kind {
  const t = type.trim().replace(/\?$/, '');
  if (t === 'string' || t === 'int' || t === 'bool' || t === 'object' || t === 'array') return t;
  if (t.endsWith('[]')) return 'array';
  if (/^'[^']*'(\s*\|\s*'[^']*')*$/.test(t)) return 'string';
  return 'any';
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i]![j] = Math.min(dp[i - 1]![j]! + 1, dp[i]![j - 1]! + 1, dp[i - 1]![j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
    }
  }
  return dp[a.length]![b.length]!;
}

function nearest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = distance(name, candidate);
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

export class TypeChecker {
  private readonly out: Diagnostic[] = [];
  private readonly schemas = loadSchemas();

  constructor(private readonly project: InfraProject) {}

  run(): Diagnostic[] {
    for (const file of this.project.files) this.checkFile(file);
    return this.out;
  }

  private report(code: DiagnosticCode, file: string, line: number, message: string): void {
    this.out.push({ code, file, line, message });
  }

  private parse(file: BicepFile, value: BicepValue): Expr | undefined {
    try {
      return new ExpressionParser(file.source.slice(value.start, value.end), file.path, value.line).parse();
    } catch (error) {
      this.report('type-mismatch', file.path, value.line, (error as Error).message);
      return undefined;
    }
  }

  // -- files

  private checkFile(file: BicepFile): void {
    const names = new Set<string>();
    const declare = (name: string, line: number, what: string) => {
      if (names.has(name)) this.report('duplicate-declaration', file.path, line, `${what} '${name}' is declared twice in this file.`);
      names.add(name);
    };
    for (const p of file.params) declare(p.name, p.line, 'param');
    for (const v of file.vars) declare(v.name, v.line, 'var');
    for (const r of file.resources) declare(r.symbol, r.line, 'resource');
    for (const m of file.modules) declare(m.symbol, m.line, 'module');
    const outputs = new Set<string>();
    for (const o of file.outputs) {
      if (outputs.has(o.name)) this.report('duplicate-declaration', file.path, o.line, `output '${o.name}' is declared twice in this file.`);
      outputs.add(o.name);
    }
    const assigned = new Set<string>();
    for (const a of file.paramAssignments) {
      if (assigned.has(a.name)) this.report('duplicate-declaration', file.path, a.line, `param '${a.name}' is assigned twice in this file.`);
      assigned.add(a.name);
    }
    const scope: Scope = { file, names };

    for (const value of this.allValues(file)) this.checkDuplicateKeys(file, value);

    for (const p of file.params) {
      if (p.defaultValue) this.checkAssignable(file, scope, p.defaultValue, kindOfDeclared(p.type), `the default of param '${p.name}' (${p.type})`);
    }
    for (const v of file.vars) this.checkSymbols(file, scope, v.value, new Set());
    for (const o of file.outputs) this.checkAssignable(file, scope, o.value, kindOfDeclared(o.type), `output '${o.name}' (${o.type})`);
    for (const r of file.resources) this.checkResource(file, scope, r);
    for (const m of file.modules) this.checkModule(file, scope, m);
    if (file.using !== undefined) this.checkParameterFile(file, scope);
  }

  /** Every object and array value written in the file (declaration values and resource/module bodies). */
  private *allValues(file: BicepFile): Generator<BicepValue> {
    const roots: BicepValue[] = [
      ...file.params.flatMap((p) => (p.defaultValue ? [p.defaultValue] : [])),
      ...file.vars.map((v) => v.value),
      ...file.outputs.map((o) => o.value),
      ...file.resources.map((r) => r.body),
      ...file.modules.map((m) => m.body),
      ...file.paramAssignments.map((a) => a.value),
    ];
    for (const root of roots) yield* walkValues(root);
  }

  private checkDuplicateKeys(file: BicepFile, value: BicepValue): void {
    if (value.kind !== 'object') return;
    const seen = new Set<string>();
    for (const property of value.properties) {
      if (seen.has(property.key)) this.report('duplicate-property', file.path, property.line, `property '${property.key}' appears twice in one object.`);
      seen.add(property.key);
    }
  }

  // -- symbols, functions and types of expressions

  private checkSymbols(file: BicepFile, scope: Scope, value: BicepValue, locals: Set<string>): void {
    const expr = this.parse(file, value);
    if (expr) this.visit(file, scope, expr, locals);
  }

  private visit(file: BicepFile, scope: Scope, expr: Expr, locals: Set<string>): void {
    switch (expr.kind) {
      case 'ident':
        if (!scope.names.has(expr.name) && !locals.has(expr.name) && !['az', 'sys'].includes(expr.name)) {
          const hint = nearest(expr.name, [...scope.names, ...locals]);
          this.report('undefined-symbol', file.path, expr.line, `'${expr.name}' is not declared${hint ? ` (did you mean '${hint}'?)` : ''}.`);
        }
        return;
      case 'call': {
        const callee = expr.callee;
        if (callee.kind === 'ident' && !scope.names.has(callee.name) && !locals.has(callee.name)) {
          if (FUNCTIONS[callee.name] === undefined) {
            const hint = nearest(callee.name, Object.keys(FUNCTIONS));
            this.report('unknown-function', file.path, expr.line, `'${callee.name}()' is not a Bicep function${hint ? ` (did you mean '${hint}()'?)` : ''}.`);
          }
        } else if (callee.kind === 'member' && callee.object.kind === 'ident' && ['az', 'sys'].includes(callee.object.name)) {
          if (FUNCTIONS[callee.name] === undefined) this.report('unknown-function', file.path, expr.line, `'${callee.object.name}.${callee.name}()' is not a Bicep function.`);
        } else if (callee.kind === 'member') {
          // A resource method: `res.listKeys()`, `vault.getSecret('name')`.
          const target = callee.object.kind === 'ident' ? callee.object.name : undefined;
          const isResource = target !== undefined && file.resources.some((r) => r.symbol === target);
          if (!isResource || !/^(list\w*|getSecret)$/.test(callee.name)) {
            this.report('unknown-function', file.path, expr.line, `'${callee.name}()' is not a method Bicep offers here (resource symbols have list*() and getSecret()).`);
          }
          this.visit(file, scope, callee.object, locals);
        } else {
          this.visit(file, scope, callee, locals);
        }
        for (const arg of expr.args) this.visit(file, scope, arg, locals);
        return;
      }
      case 'member':
        this.visit(file, scope, expr.object, locals);
        return;
      case 'index':
        this.visit(file, scope, expr.object, locals);
        this.visit(file, scope, expr.index, locals);
        return;
      case 'unary':
        this.visit(file, scope, expr.operand, locals);
        return;
      case 'binary':
        this.visit(file, scope, expr.left, locals);
        this.visit(file, scope, expr.right, locals);
        return;
      case 'ternary':
        this.visit(file, scope, expr.condition, locals);
        this.visit(file, scope, expr.then, locals);
        this.visit(file, scope, expr.otherwise, locals);
        return;
      case 'template':
        for (const hole of expr.holes) this.visit(file, scope, hole, locals);
        return;
      case 'object':
        for (const p of expr.properties) this.visit(file, scope, p.value, locals);
        return;
      case 'array':
        for (const item of expr.items) this.visit(file, scope, item, locals);
        return;
      case 'for': {
        this.visit(file, scope, expr.source, locals);
        const inner = new Set([...locals, ...expr.variables]);
        if (expr.condition) this.visit(file, scope, expr.condition, inner);
        this.visit(file, scope, expr.body, inner);
        return;
      }
      case 'lambda':
        this.visit(file, scope, expr.body, new Set([...locals, ...expr.params]));
        return;
      default:
        return;
    }
  }

  /** The type of an expression, as far as it is known ('any' otherwise). */
  private typeOf(file: BicepFile, expr: Expr, locals: Set<string>): Kind {
    switch (expr.kind) {
      case 'literal':
        return expr.type;
      case 'template':
        return 'string';
      case 'object':
        return 'object';
      case 'array':
      case 'for':
        return 'array';
      case 'ident': {
        if (locals.has(expr.name)) return 'any';
        const param = file.params.find((p) => p.name === expr.name);
        if (param) return kindOfDeclared(param.type);
        const variable = file.vars.find((v) => v.name === expr.name);
        if (variable) {
          const inner = this.parseQuiet(file, variable.value);
          return inner ? this.typeOf(file, inner, new Set()) : 'any';
        }
        if (file.resources.some((r) => r.symbol === expr.name) || file.modules.some((m) => m.symbol === expr.name)) return 'object';
        return 'any';
      }
      case 'member':
        return this.memberType(file, expr);
      case 'call': {
        const callee = expr.callee;
        if (callee.kind === 'ident') {
          const result = FUNCTIONS[callee.name] ?? 'any';
          if ((callee.name === 'take' || callee.name === 'skip' || callee.name === 'concat' || callee.name === 'union') && expr.args[0]) {
            const first = this.typeOf(file, expr.args[0], locals);
            return first === 'string' || first === 'array' || first === 'object' ? first : 'any';
          }
          return result;
        }
        return 'any';
      }
      case 'unary':
        return expr.op === '!' ? 'bool' : 'int';
      case 'binary':
        if (['==', '!=', '=~', '!~', '<', '<=', '>', '>=', '&&', '||'].includes(expr.op)) return 'bool';
        if (expr.op === '??') return 'any';
        return 'int';
      case 'ternary': {
        const a = this.typeOf(file, expr.then, locals);
        const b = this.typeOf(file, expr.otherwise, locals);
        if (a === b) return a;
        if (a === 'null') return b;
        if (b === 'null') return a;
        return 'any';
      }
      default:
        return 'any';
    }
  }

  private parseQuiet(file: BicepFile, value: BicepValue): Expr | undefined {
    try {
      return new ExpressionParser(file.source.slice(value.start, value.end), file.path, value.line).parse();
    } catch {
      return undefined;
    }
  }

  /** `module.outputs.name`, `resource.id`, `resource.properties.x` and the like. */
  private memberType(file: BicepFile, expr: Expr & { kind: 'member' }): Kind {
    const chain: string[] = [];
    let base: Expr = expr;
    while (base.kind === 'member') {
      chain.unshift(base.name);
      base = base.object;
    }
    if (base.kind === 'index') base = base.object;
    if (base.kind !== 'ident') return 'any';
    const module = file.modules.find((m) => m.symbol === base.name);
    if (module && chain[0] === 'outputs' && chain.length === 2) {
      const target = this.project.file(path.posix.join(path.posix.dirname(file.path), module.path));
      const output = target?.outputs.find((o) => o.name === chain[1]);
      return output ? kindOfDeclared(output.type) : 'any';
    }
    const resource = file.resources.find((r) => r.symbol === base.name);
    if (resource) {
      if (chain.length === 1 && ['id', 'name', 'type', 'apiVersion'].includes(chain[0]!)) return 'string';
      const schema = this.schemaFor(resource);
      let type: SchemaType | undefined = schema?.body;
      for (const segment of chain) {
        if (type?.kind !== 'object') return 'any';
        type = type.properties.get(segment)?.type ?? type.additional;
      }
      return type ? kindOfSchema(type) : 'any';
    }
    return 'any';
  }

  /** Reports when an expression's known type differs from the expected one. */
  private checkAssignable(file: BicepFile, scope: Scope, value: BicepValue, expected: Kind, what: string, locals = new Set<string>()): void {
    const expr = this.parse(file, value);
    if (!expr) return;
    this.visit(file, scope, expr, locals);
    this.checkExprAssignable(file, expr, expected, what, locals);
  }

  private checkExprAssignable(file: BicepFile, expr: Expr, expected: Kind, what: string, locals: Set<string>): void {
    if (expected === 'any') return;
    if (expr.kind === 'ternary') {
      this.checkExprAssignable(file, expr.then, expected, what, locals);
      this.checkExprAssignable(file, expr.otherwise, expected, what, locals);
      return;
    }
    const actual = this.typeOf(file, expr, locals);
    if (actual !== 'any' && actual !== 'null' && actual !== expected) {
      this.report('type-mismatch', file.path, expr.line, `${what} expects ${expected}, found ${actual} (${describe(expr)}).`);
    }
  }

  // -- resources

  private schemaFor(resource: BicepResource): ResourceSchema | undefined {
    let key = resource.type.toLowerCase();
    if (key === 'microsoft.web/sites/config') {
      const name = resource.body.properties.find((p) => p.key === 'name')?.value;
      key += `#${name?.kind === 'string' ? name.value.toLowerCase() : ''}`;
    }
    return this.schemas.get(key);
  }

  private checkResource(file: BicepFile, scope: Scope, resource: BicepResource): void {
    const locals = new Set<string>(resource.loop ? [resource.loop.itemName, ...this.loopIndex(file, resource)] : []);
    if (resource.condition) {
      const condition = new ExpressionParser(resource.condition, file.path, resource.line).parse();
      this.visit(file, scope, condition, locals);
    }
    if (resource.loop) this.visit(file, scope, new ExpressionParser(resource.loop.source, file.path, resource.line).parse(), new Set());
    const schema = this.schemaFor(resource);
    if (!schema) {
      if (!resource.existing) {
        this.report('unknown-resource-type', file.path, resource.line, `no schema for ${resource.type}${resource.type.toLowerCase() === 'microsoft.web/sites/config' ? " (config name other than 'appsettings' or 'authsettingsV2')" : ''}: add it to SCHEMA_SOURCES (test/infra/schemas.ts).`);
      }
      for (const property of resource.body.properties) this.checkSymbols(file, scope, property.value, locals);
      return;
    }
    const allowed = new Set([...RESOURCE_KEYWORDS, ...ENVELOPE, ...schema.body.properties.keys()]);
    for (const property of resource.body.properties) {
      if (resource.existing && !['name', 'parent', 'scope'].includes(property.key)) {
        this.report('unknown-property', file.path, property.line, `an existing resource takes only name, parent and scope (found '${property.key}').`);
        continue;
      }
      if (!allowed.has(property.key)) {
        const hint = nearest(property.key, allowed);
        this.report('unknown-property', file.path, property.line, `${resource.type} has no property '${property.key}'${hint ? ` (did you mean '${hint}'?)` : ''} [${schema.source}].`);
        this.checkSymbols(file, scope, property.value, locals);
        continue;
      }
      const known = schema.body.properties.get(property.key);
      if (!known || RESOURCE_KEYWORDS.includes(property.key)) {
        this.checkSymbols(file, scope, property.value, locals);
        continue;
      }
      this.checkValue(file, scope, property.value, known.type, `${resource.type}: ${property.key}`, schema.source, locals);
    }
    if (!resource.existing) {
      for (const [key, property] of schema.body.properties) {
        if (property.required && !property.readOnly && !resource.body.properties.some((p) => p.key === key) && !ENVELOPE.includes(key)) {
          this.report('missing-required', file.path, resource.line, `${resource.type} requires '${key}' [${schema.source}].`);
        }
      }
    }
  }

  private loopIndex(file: BicepFile, resource: BicepResource): string[] {
    const text = file.source.slice(resource.start, resource.body.start);
    const match = /\[\s*for\s*\(\s*\w+\s*,\s*(\w+)\s*\)/.exec(text);
    return match ? [match[1]!] : [];
  }

  /** A value written for a property whose schema type is known. */
  private checkValue(file: BicepFile, scope: Scope, value: BicepValue, type: SchemaType, where: string, source: string, locals: Set<string>): void {
    if (value.kind === 'object' && type.kind === 'object') {
      this.checkObject(file, scope, value, type, where, source, locals);
      return;
    }
    if (value.kind === 'array' && type.kind === 'array') {
      for (const item of value.items) this.checkValue(file, scope, item, type.items, `${where}[]`, source, locals);
      return;
    }
    if (value.kind === 'for' && type.kind === 'array') {
      this.visit(file, scope, new ExpressionParser(value.source, file.path, value.line).parse(), locals);
      const header = /^\[\s*for\s*\(?\s*([\w\s,]+?)\s*\)?\s+in\b/.exec(file.source.slice(value.start, value.end));
      const inner = new Set([...locals, ...(header?.[1] ?? value.itemName).split(',').map((s) => s.trim())]);
      this.checkValue(file, scope, value.body, type.items, `${where}[]`, source, inner);
      return;
    }
    const expr = this.parse(file, value);
    if (!expr) return;
    this.visit(file, scope, expr, locals);
    this.checkExpr(file, scope, expr, type, where, source, locals);
  }

  /** An expression against a schema type: literals (and literal branches) checked in full, references by kind. */
  private checkExpr(file: BicepFile, scope: Scope, expr: Expr, type: SchemaType, where: string, source: string, locals: Set<string>): void {
    if (type.kind === 'any') return;
    if (expr.kind === 'ternary') {
      this.checkExpr(file, scope, expr.then, type, where, source, locals);
      this.checkExpr(file, scope, expr.otherwise, type, where, source, locals);
      return;
    }
    if (expr.kind === 'object' && type.kind === 'object') {
      this.checkExprObject(file, scope, expr, type, where, source, locals);
      return;
    }
    if (expr.kind === 'array' && type.kind === 'array') {
      for (const item of expr.items) this.checkExpr(file, scope, item, type.items, `${where}[]`, source, locals);
      return;
    }
    if (expr.kind === 'literal' && expr.type === 'null') return;
    const expected = kindOfSchema(type);
    const actual = this.typeOf(file, expr, locals);
    if (actual !== 'any' && actual !== 'null' && actual !== expected) {
      this.report('type-mismatch', file.path, expr.line, `${where} expects ${expected}, found ${actual} (${describe(expr)}) [${source}].`);
      return;
    }
    if (expr.kind === 'literal' && (type.kind === 'string' || type.kind === 'int') && type.values && type.values.length > 0) {
      const values = type.values as readonly (string | number)[];
      if (!values.includes(expr.value as string | number)) {
        this.report('invalid-enum', file.path, expr.line, `${where}: ${JSON.stringify(expr.value)} is not one of ${values.map((v) => JSON.stringify(v)).join(', ')}${type.kind === 'string' && type.open ? ' (the values Azure documents for this open enum)' : ''} [${source}].`);
      }
    }
  }

  private checkObject(file: BicepFile, scope: Scope, value: BicepObject, type: SchemaObject, where: string, source: string, locals: Set<string>): void {
    for (const property of value.properties) {
      const known = type.properties.get(property.key);
      if (!known) {
        if (type.additional) {
          this.checkValue(file, scope, property.value, type.additional, `${where}.${property.key}`, source, locals);
        } else if (!type.union || type.properties.size > 0) {
          const hint = nearest(property.key, type.properties.keys());
          this.report('unknown-property', file.path, property.line, `${where} has no property '${property.key}'${hint ? ` (did you mean '${hint}'?)` : ''} [${source}].`);
          this.checkSymbols(file, scope, property.value, locals);
        } else {
          this.checkSymbols(file, scope, property.value, locals);
        }
        continue;
      }
      if (known.readOnly) {
        this.report('readonly-property', file.path, property.line, `${where}.${property.key} is read-only: Azure sets it [${source}].`);
      }
      this.checkValue(file, scope, property.value, known.type, `${where}.${property.key}`, source, locals);
    }
    if (!type.union) {
      for (const [key, property] of type.properties) {
        if (property.required && !property.readOnly && !value.properties.some((p) => p.key === key)) {
          this.report('missing-required', file.path, value.line, `${where} requires '${key}' [${source}].`);
        }
      }
    }
  }

  private checkExprObject(file: BicepFile, scope: Scope, expr: Expr & { kind: 'object' }, type: SchemaObject, where: string, source: string, locals: Set<string>): void {
    for (const property of expr.properties) {
      const known = type.properties.get(property.key);
      if (!known) {
        if (type.additional) this.checkExpr(file, scope, property.value, type.additional, `${where}.${property.key}`, source, locals);
        else if (!type.union || type.properties.size > 0) {
          const hint = nearest(property.key, type.properties.keys());
          this.report('unknown-property', file.path, property.line, `${where} has no property '${property.key}'${hint ? ` (did you mean '${hint}'?)` : ''} [${source}].`);
        }
        continue;
      }
      if (known.readOnly) this.report('readonly-property', file.path, property.line, `${where}.${property.key} is read-only: Azure sets it [${source}].`);
      this.checkExpr(file, scope, property.value, known.type, `${where}.${property.key}`, source, locals);
    }
  }

  // -- modules and parameter files

  private checkModule(file: BicepFile, scope: Scope, module: BicepFile['modules'][number]): void {
    const target = this.project.file(path.posix.join(path.posix.dirname(file.path), module.path));
    if (module.condition) this.visit(file, scope, new ExpressionParser(module.condition, file.path, module.line).parse(), new Set());
    for (const property of module.body.properties) {
      if (property.key !== 'params') {
        this.checkSymbols(file, scope, property.value, new Set());
        continue;
      }
      if (property.value.kind !== 'object') continue;
      for (const passed of property.value.properties) {
        const param = target?.params.find((p) => p.name === passed.key);
        if (!param) {
          this.checkSymbols(file, scope, passed.value, new Set());
          continue; // modules-wired reports a parameter the module does not declare
        }
        this.checkAssignable(file, scope, passed.value, kindOfDeclared(param.type), `module '${module.symbol}': param '${param.name}' (${param.type})`);
        this.checkConstraints(file, passed.value, param, `module '${module.symbol}': param '${param.name}'`);
      }
    }
  }

  private checkParameterFile(file: BicepFile, scope: Scope): void {
    const target = this.project.file(path.posix.join(path.posix.dirname(file.path), file.using ?? ''));
    for (const assignment of file.paramAssignments) {
      const param = target?.params.find((p) => p.name === assignment.name);
      if (!param) continue; // bicepparam-matches-main reports it
      this.checkAssignable(file, scope, assignment.value, kindOfDeclared(param.type), `param '${param.name}' (${param.type})`);
      this.checkConstraints(file, assignment.value, param, `param '${param.name}'`);
    }
  }

  /** A literal against a parameter's @allowed, @minValue/@maxValue and @minLength/@maxLength. */
  private checkConstraints(file: BicepFile, value: BicepValue, param: BicepFile['params'][number], what: string): void {
    const expr = this.parseQuiet(file, value);
    if (!expr) return;
    const literals: Expr[] = expr.kind === 'ternary' ? [expr.then, expr.otherwise] : [expr];
    const decorator = (name: string) => param.decorators.find((d) => d.name === name)?.args[0];
    for (const literal of literals) {
      if (literal.kind !== 'literal' || literal.value === undefined) continue;
      const allowed = decorator('allowed');
      if (allowed?.kind === 'array') {
        const values = allowed.items.map((i) => (i.kind === 'string' || i.kind === 'number' || i.kind === 'bool' ? i.value : undefined));
        if (!values.includes(literal.value)) {
          this.report('param-constraint', file.path, literal.line, `${what}: ${JSON.stringify(literal.value)} is not in @allowed(${JSON.stringify(values)}).`);
        }
      }
      const min = decorator('minValue');
      const max = decorator('maxValue');
      if (typeof literal.value === 'number') {
        if (min?.kind === 'number' && literal.value < min.value) this.report('param-constraint', file.path, literal.line, `${what}: ${literal.value} is below @minValue(${min.value}).`);
        if (max?.kind === 'number' && literal.value > max.value) this.report('param-constraint', file.path, literal.line, `${what}: ${literal.value} is above @maxValue(${max.value}).`);
      }
      const minLength = decorator('minLength');
      const maxLength = decorator('maxLength');
      if (typeof literal.value === 'string') {
        if (minLength?.kind === 'number' && literal.value.length < minLength.value) this.report('param-constraint', file.path, literal.line, `${what}: '${literal.value}' is shorter than @minLength(${minLength.value}).`);
        if (maxLength?.kind === 'number' && literal.value.length > maxLength.value) this.report('param-constraint', file.path, literal.line, `${what}: '${literal.value}' is longer than @maxLength(${maxLength.value}).`);
      }
    }
  }
}

function describe(expr: Expr): string {
  switch (expr.kind) {
    case 'literal':
      return expr.type === 'string' ? `'${String(expr.value)}'` : String(expr.value ?? expr.type);
    case 'ident':
      return expr.name;
    case 'member':
      return `${describe(expr.object)}.${expr.name}`;
    case 'call':
      return `${describe(expr.callee)}(...)`;
    default:
      return `a ${expr.kind}`;
  }
}

export function typeCheck(project: InfraProject): Diagnostic[] {
  return new TypeChecker(project).run();
}
