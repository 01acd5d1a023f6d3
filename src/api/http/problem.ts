import { DomainError, type FieldError, type RefusalKind, refusals } from '../../domain/errors';
import { outageOf } from '../../infra/outages';

/**
 * RFC 9457 problem details. Every error a client can see is one of these, with a stable snake_case `code`
 * that frontends switch on; `title` and `detail` are for people.
 */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: string;
  errors?: FieldError[];
  [extra: string]: unknown;
}

export type { FieldError };

export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail?: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
    this.name = 'Problem';
  }

  toBody(): ProblemBody {
    return {
      type: `https://pledgeflow.dev/problems/${this.code.replace(/_/g, '-')}`,
      title: this.title,
      status: this.status,
      ...(this.detail ? { detail: this.detail } : {}),
      code: this.code,
      ...this.extra,
    };
  }
}

/** Retry-After of a 503 whose refusal named no better time. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;

export const problems = {
  validation: (errors: FieldError[], detail = 'The request is not valid.') =>
    new Problem(400, 'validation_failed', 'Validation failed', detail, { errors }),
  malformedJson: (detail: string) => new Problem(400, 'malformed_json', 'Malformed JSON', detail),
  unauthorized: (detail = 'A valid bearer token is required.') =>
    new Problem(401, 'unauthorized', 'Unauthorized', detail, {}, { 'WWW-Authenticate': 'Bearer' }),
  forbidden: (detail = 'You are not allowed to do this.') => new Problem(403, 'forbidden', 'Forbidden', detail),
  notFound: (what = 'resource') => new Problem(404, 'not_found', 'Not found', `No such ${what}.`),
  conflict: (code: string, detail: string, extra?: Record<string, unknown>) =>
    new Problem(409, code, 'Conflict', detail, extra),
  unprocessable: (code: string, detail: string, extra?: Record<string, unknown>) =>
    new Problem(422, code, 'Unprocessable request', detail, extra),
  tooManyRequests: (retryAfterSeconds: number, detail = 'Too many requests; try again later.') =>
    new Problem(429, 'rate_limited', 'Too many requests', detail, { retry_after_seconds: retryAfterSeconds }, {
      'Retry-After': String(retryAfterSeconds),
    }),
  /** DESIGN: a dependency outage answers 503 with Retry-After, so clients know to come back. */
  unavailable: (code: string, detail: string, retryAfterSeconds = DEFAULT_RETRY_AFTER_SECONDS) =>
    new Problem(503, code, 'Service unavailable', detail, {}, { 'Retry-After': String(retryAfterSeconds) }),
};

/** The one place a domain refusal's kind becomes an HTTP status. */
const STATUS: Record<RefusalKind, { status: number; title: string }> = {
  invalid: { status: 400, title: 'Validation failed' },
  unauthenticated: { status: 401, title: 'Unauthorized' },
  payment: { status: 402, title: 'Payment required' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  conflict: { status: 409, title: 'Conflict' },
  gone: { status: 410, title: 'Gone' },
  unprocessable: { status: 422, title: 'Unprocessable request' },
  rate_limited: { status: 429, title: 'Too many requests' },
  unavailable: { status: 503, title: 'Service unavailable' },
};

/** A domain refusal as problem+json: its kind's status, its code and detail, Retry-After / WWW-Authenticate where they belong. */
export function problemOf(err: DomainError): Problem {
  const { status, title } = STATUS[err.kind];
  const headers: Record<string, string> = {};
  if (err.kind === 'unauthenticated') headers['WWW-Authenticate'] = 'Bearer';
  const retryAfter = err.extra.retry_after_seconds;
  if (typeof retryAfter === 'number') headers['Retry-After'] = String(retryAfter);
  else if (err.kind === 'unavailable') headers['Retry-After'] = String(DEFAULT_RETRY_AFTER_SECONDS);
  // A 503's retry hint is a header only; a 429 also names it in the body, as it always has.
  const extra = err.kind === 'unavailable' ? Object.fromEntries(Object.entries(err.extra).filter(([k]) => k !== 'retry_after_seconds')) : err.extra;
  return new Problem(status, err.code, err.title ?? title, err.detail, extra, headers);
}

/** Problem, domain refusal or a dependency's outage, as the Problem the client gets; anything else is a bug (undefined). */
export function asProblem(err: unknown): Problem | undefined {
  if (err instanceof Problem) return err;
  if (err instanceof DomainError) return problemOf(err);
  const dependency = outageOf(err);
  return dependency ? problemOf(refusals.dependencyDown(dependency)) : undefined;
}
