/** An application/problem+json answer from the API, as something the UI can say in words. */
export interface FieldProblem {
  path: string;
  message: string;
}

export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string,
    readonly fields: FieldProblem[] = [],
    /** Seconds the server asked us to wait before asking again (Retry-After on 429 and 503). */
    readonly retryAfterSeconds?: number,
  ) {
    super(detail || title);
  }

  /** A refusal that says "not now" rather than "no": asking again later may succeed. */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status === 503;
  }

  /** The message for one body field (`goal_cents`, `reward_tiers.0.title`); the API prefixes them with `body.`. */
  field(path: string): string | undefined {
    return this.fields.find((f) => f.path === path || f.path === `body.${path}`)?.message;
  }
}

/** What the API's problem body says, or a sentence for a network failure or a non-problem answer. */
export function toProblem(error: unknown, status = 0): ApiProblem {
  if (error instanceof ApiProblem) return error;
  const body = (error ?? {}) as { status?: number; code?: string; title?: string; detail?: string; errors?: FieldProblem[] };
  if (typeof body.code === 'string') {
    return new ApiProblem(body.status ?? status, body.code, body.title ?? 'Error', body.detail ?? '', Array.isArray(body.errors) ? body.errors : []);
  }
  if (error instanceof Error) return new ApiProblem(0, 'network_error', 'Network error', 'The server could not be reached. Check your connection and try again.');
  return new ApiProblem(status, 'unexpected', 'Something went wrong', 'The server gave an unexpected answer. Try again in a moment.');
}

/** openapi-fetch answers `{data}` or `{error}`: the data, or the problem thrown (for TanStack Query). */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch (err) {
    throw toProblem(err);
  }
  if (result.error !== undefined || !result.response.ok) {
    const problem = toProblem(result.error, result.response.status);
    const wait = Number(result.response.headers.get('Retry-After'));
    throw Number.isFinite(wait) && wait > 0
      ? new ApiProblem(problem.status, problem.code, problem.title, problem.detail, problem.fields, wait)
      : problem;
  }
  return result.data as T;
}

/**
 * How long to wait before asking again after a failed attempt: what Retry-After said, else exponential
 * backoff from one second, capped at 30 s (so a crowd of clients spreads out instead of hammering in step).
 */
export function retryDelayMs(attempt: number, error: unknown): number {
  const asked = toProblem(error).retryAfterSeconds;
  if (asked !== undefined) return asked * 1000;
  return Math.min(30_000, 1000 * 2 ** attempt) * (0.75 + Math.random() / 2);
}
