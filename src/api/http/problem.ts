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

export interface FieldError {
  path: string;
  message: string;
  code?: string;
}

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
  unavailable: (code: string, detail: string) => new Problem(503, code, 'Service unavailable', detail),
};
