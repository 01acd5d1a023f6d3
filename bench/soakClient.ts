import { randomUUID } from 'node:crypto';
import { Tally } from './load';

/**
 * The soak's HTTP client: one logical operation, retried through the outage windows the soak makes. A 503 with
 * Retry-After (a worker being killed, a workflow not answering in time), a 409 `request_in_progress` (our own
 * earlier attempt still holds the key) or a dropped connection is retried after the advertised pause with the
 * SAME Idempotency-Key, so a retry can only replay the first outcome, never make a second one. Every answer is
 * tallied per operation and status; the final answer is what the caller acts on.
 */
export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  attempts: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class SoakClient {
  /** Every answer, `<operation>` → status → count (retried attempts included). */
  readonly answers = new Map<string, Tally>();
  /** Final answers per operation (after retries). */
  readonly outcomes = new Map<string, Tally>();
  /** 503s that came without Retry-After (the API's contract says every 503 has one). */
  readonly bare503 = new Tally();
  /** The first body of each final error answer, `<operation> <status>` → body (what the report shows). */
  readonly examples = new Map<string, unknown>();
  retries = 0;
  /** Things worth a line in the report that are not checks (e.g. a claim tried in time but refused after retries). */
  readonly observations = new Tally();

  constructor(
    private readonly baseUrl: string,
    /** How long one operation may keep retrying. */
    private readonly retryBudgetMs = 90_000,
  ) {}

  async call<T = Record<string, unknown>>(
    op: string,
    method: string,
    path: string,
    opts: { auth?: string; body?: unknown; idempotencyKey?: string | true } = {},
  ): Promise<Answer<T>> {
    const key = opts.idempotencyKey === true ? randomUUID() : opts.idempotencyKey;
    const headers: Record<string, string> = {
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(opts.auth ? { authorization: opts.auth } : {}),
      ...(key ? { 'idempotency-key': key } : {}),
    };
    const giveUpAt = Date.now() + this.retryBudgetMs;
    for (let attempt = 1; ; attempt++) {
      let status: number;
      let body: T;
      let retryAfterMs: number | undefined;
      try {
        const res = await fetch(`${this.baseUrl}${path}`, { method, headers, body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined, signal: AbortSignal.timeout(30_000) });
        status = res.status;
        const text = await res.text();
        body = (text ? JSON.parse(text) : {}) as T;
        const retryAfter = res.headers.get('retry-after');
        if (status === 503 && !retryAfter) this.bare503.add(op);
        if (status === 503) retryAfterMs = Math.min(10_000, Math.max(250, Number(retryAfter ?? 1) * 1000));
        if (status === 409 && (body as { code?: string }).code === 'request_in_progress') retryAfterMs = 1_000;
      } catch (err) {
        status = 0; // no answer: connection refused/reset or our own timeout
        body = { error: (err as Error).message } as T;
        retryAfterMs = 1_000;
      }
      this.tally(this.answers, op, status);
      if (retryAfterMs === undefined || Date.now() + retryAfterMs > giveUpAt) {
        this.tally(this.outcomes, op, status);
        if ((status >= 400 || status === 0) && !this.examples.has(`${op} ${status}`)) this.examples.set(`${op} ${status}`, body);
        return { status, body, attempts: attempt };
      }
      this.retries++;
      await sleep(retryAfterMs);
    }
  }

  private tally(map: Map<string, Tally>, op: string, status: number): void {
    let t = map.get(op);
    if (!t) map.set(op, (t = new Tally()));
    t.add(status);
  }

  /** `{ operation: { status: count } }` for the report. */
  static toJSON(map: Map<string, Tally>): Record<string, Record<string, number>> {
    return Object.fromEntries([...map.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([op, t]) => [op, t.toJSON()]));
  }
}
