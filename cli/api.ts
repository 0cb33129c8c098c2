import { encodePrincipal } from '../shared/http/principal';

/**
 * Exit codes scripts can rely on (docs/cli.md). Every failure maps to exactly one of them.
 */
export const EXIT = {
  ok: 0,
  /** The API refused the call (400, 409, 410, 5xx): its message and field are printed. */
  api: 1,
  /** The command line is wrong (unknown command or option, missing or bad argument): nothing was called. */
  usage: 2,
  /** The tenant, request or cancellation does not exist (or is not visible to the caller). */
  notFound: 3,
  /** No valid credentials: 401/403 from the API, or no token from DefaultAzureCredential. */
  auth: 4,
  /** The API could not be reached (connection refused, DNS, timeout). */
  unreachable: 5,
  /** A long operation did not finish: a purge that is blocked or still running when --timeout ran out. */
  incomplete: 6,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly field?: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function usageError(message: string, field?: string): CliError {
  return new CliError(message, EXIT.usage, field);
}

/** Something that gives an access token (DefaultAzureCredential does). */
export interface TokenSource {
  getToken(scope: string): Promise<{ token: string } | null>;
}

export type Auth =
  | { kind: 'dev'; objectId: string }
  | { kind: 'entra'; scope: string; credential: () => Promise<TokenSource> };

export interface ApiResponse {
  status: number;
  body: unknown;
}

/**
 * The admin API over HTTP. Locally (LOCAL_DEV_AUTH=true) the caller is a dev principal with the
 * Flowkeeper.Admin role in `x-ms-client-principal`; against a deployed app a bearer token for the app
 * registration, which App Service Authentication validates and turns into that same header.
 */
export class ApiClient {
  private tokenSource: TokenSource | undefined;

  constructor(
    readonly baseUrl: string,
    private readonly auth: Auth,
    private readonly fetchImpl: typeof fetch,
    private readonly timeoutMs = 30_000,
  ) {}

  async call(method: 'GET' | 'POST' | 'PUT', path: string, options: { query?: Record<string, string | undefined>; body?: unknown } = {}): Promise<ApiResponse> {
    const url = new URL(`/api/${path.replace(/^\/+/, '')}`, this.baseUrl);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined && value !== '') url.searchParams.set(key, value);
    const headers: Record<string, string> = { accept: 'application/json', ...(await this.authHeaders()) };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new CliError(`cannot reach ${this.baseUrl} (${networkReason(error)})${isLoopback(this.baseUrl) ? ': is the local host running (npm start)?' : ''}`, EXIT.unreachable);
    }
    const text = await response.text();
    let body: unknown = text;
    if (text !== '' && (response.headers.get('content-type') ?? '').includes('json')) {
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        body = text;
      }
    }
    if (response.status >= 400) throw apiError(response.status, body, method, url.pathname);
    return { status: response.status, body };
  }

  private async authHeaders(): Promise<Record<string, string>> {
    if (this.auth.kind === 'dev') {
      return { 'x-ms-client-principal': encodePrincipal({ objectId: this.auth.objectId, roles: ['Flowkeeper.Admin'] }) };
    }
    try {
      this.tokenSource ??= await this.auth.credential();
      const token = await this.tokenSource.getToken(this.auth.scope);
      if (!token) throw new Error('no token was returned');
      return { authorization: `Bearer ${token.token}` };
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]!.slice(0, 300)}` : 'unknown error';
      throw new CliError(`could not get a token for ${this.auth.scope} from DefaultAzureCredential (${reason}); sign in with "az login" or set AZURE_* variables`, EXIT.auth);
    }
  }
}

function apiError(status: number, body: unknown, method: string, path: string): CliError {
  const error = (body as { error?: { message?: unknown; field?: unknown } } | undefined)?.error;
  const message = typeof error?.message === 'string' ? error.message : typeof body === 'string' && body.trim() !== '' ? body.trim().slice(0, 300) : `HTTP ${status}`;
  const field = typeof error?.field === 'string' ? error.field : undefined;
  const code = status === 401 || status === 403 ? EXIT.auth : status === 404 ? EXIT.notFound : EXIT.api;
  const where = status === 404 && message === 'not found' ? ` (${method} ${path}: is this Flowkeeper version serving it?)` : '';
  return new CliError(`${message}${where}`, code, field, status);
}

function networkReason(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'timed out';
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string' && cause.message !== '') return cause.message;
  return error instanceof Error ? error.message : 'network error';
}

export function isLoopback(url: string): boolean {
  try {
    const host = new URL(url).hostname;
    return host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.');
  } catch {
    return false;
  }
}
