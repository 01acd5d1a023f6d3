/**
 * What domain services throw when a request cannot be done. They name the kind of refusal and a stable
 * snake_case code; they know nothing of HTTP. One mapping (src/api/http/problem.ts) turns these into
 * problem+json with a status, so the meaning of each kind is decided in one place.
 */
export type RefusalKind =
  | 'invalid' // the input itself is wrong
  | 'unauthenticated' // no valid identity
  | 'payment' // the payment could not be made (declined, needs the payer's action)
  | 'forbidden' // known identity, not allowed
  | 'not_found' // unknown, or belongs to someone the caller may not see
  | 'conflict' // the current state forbids it (sold out, changed meanwhile, already done)
  | 'gone' // it existed but is over (expired token, closed window)
  | 'unprocessable' // well-formed but against a business rule
  | 'rate_limited'
  | 'unavailable'; // a dependency is down: retrying later is right

export interface FieldError {
  path: string;
  message: string;
  code?: string;
}

export class DomainError extends Error {
  constructor(
    readonly kind: RefusalKind,
    readonly code: string,
    readonly detail: string,
    /** Extra members of the answer (ids, limits, field errors). */
    readonly extra: Record<string, unknown> = {},
    /** A title for people when the kind's default does not say enough (e.g. "Payment declined"). */
    readonly title?: string,
  ) {
    super(detail);
    this.name = 'DomainError';
  }
}

export const refusals = {
  invalid: (errors: FieldError[], detail = 'The request is not valid.') => new DomainError('invalid', 'validation_failed', detail, { errors }),
  unauthenticated: (detail = 'A valid bearer token is required.') => new DomainError('unauthenticated', 'unauthorized', detail),
  forbidden: (detail = 'You are not allowed to do this.') => new DomainError('forbidden', 'forbidden', detail),
  notFound: (what = 'resource', code = 'not_found') => new DomainError('not_found', code, `No such ${what}.`),
  conflict: (code: string, detail: string, extra?: Record<string, unknown>) => new DomainError('conflict', code, detail, extra),
  gone: (code: string, detail: string, extra?: Record<string, unknown>) => new DomainError('gone', code, detail, extra),
  unprocessable: (code: string, detail: string, extra?: Record<string, unknown>) => new DomainError('unprocessable', code, detail, extra),
  payment: (code: string, title: string, detail: string, extra?: Record<string, unknown>) => new DomainError('payment', code, detail, extra, title),
  /** Retry-After (whole seconds) goes with the answer. */
  rateLimited: (retryAfterSeconds: number, detail = 'Too many requests; try again later.') =>
    new DomainError('rate_limited', 'rate_limited', detail, { retry_after_seconds: retryAfterSeconds }),
  unavailable: (code: string, detail: string, retryAfterSeconds?: number) =>
    new DomainError('unavailable', code, detail, retryAfterSeconds === undefined ? {} : { retry_after_seconds: retryAfterSeconds }),
  /** A dependency is down: one code for all of them, naming which (issue 11), so clients and dashboards can tell. */
  dependencyDown: (dependency: Dependency, detail = `A service we depend on (${dependency}) is unavailable; nothing was changed. Retry shortly.`) =>
    new DomainError('unavailable', 'dependency_unavailable', detail, { dependency }),
};

export type Dependency = 'postgres' | 'redis' | 'temporal';
