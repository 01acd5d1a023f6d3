import { createHash, randomUUID } from 'node:crypto';
import type { Config } from '../../config';
import type { Db } from '../../infra/db';
import { createGroupCommit } from '../../infra/keyedGroupCommit';
import type { Metrics } from '../../infra/metrics';
import type { HandlerResult, IdempotencyGuard, IdempotencyRequest } from './api';
import { asProblem, Problem, problems } from './problem';

export const REPLAYED_HEADER = 'Idempotent-Replayed';

interface KeyRow {
  fingerprint: string;
  state: 'in_progress' | 'completed';
  response_status: number | null;
  response_headers: Record<string, string> | null;
  /** Selected as text: SQL NULL means "no body", the JSON text 'null' means a null body. */
  body_text: string | null;
}

/** 5xx and 429 mean "not done": the key is released so a retry runs again. Everything else is an outcome. */
function isFinal(status: number): boolean {
  return status < 500 && status !== 429;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

interface Claim {
  scope: string;
  key: string;
  fingerprint: string;
  lockToken: string;
}

interface Completion {
  scope: string;
  key: string;
  lockToken: string;
  result: HandlerResult;
}

/** Whether the row was claimed (or stored), or the error of this request's own statement. */
type Outcome = boolean | { error: unknown };

function settled(outcome: Outcome): boolean {
  if (typeof outcome === 'boolean') return outcome;
  throw outcome.error;
}

const slot = (scope: string, key: string) => `${scope}\u0000${key}`;

/**
 * The Idempotency-Key contract (API.md), stored in Postgres so that every API replica sees the same keys.
 *
 * A request first claims its (scope, key) row with one INSERT ... ON CONFLICT: Postgres' row lock makes
 * exactly one of any number of concurrent requests the owner. The owner runs the handler and stores its
 * response; the others see the row and answer 409 (still running), 422 (different request) or the replay.
 * Each claim carries a random lock token, so a request whose lock expired and was taken over (the process
 * was presumed dead) cannot later overwrite the new owner's result.
 *
 * The lock is a lease: IDEMPOTENCY_LEASE_SECONDS ahead, renewed every third of it while the handler runs, so a
 * request that died with its process frees its key within seconds and the client's retry runs (handlers are
 * idempotent underneath: the same key starts the same workflow). A live request renews for at most
 * IDEMPOTENCY_LOCK_TIMEOUT_SECONDS, so a hung one cannot keep its key forever.
 */
export class PostgresIdempotencyGuard implements IdempotencyGuard {
  private readonly outcomes;
  /** Claims and completions arriving together share one statement each (issue 10: two of a pledge's ~3.6). */
  private readonly claimTogether = createGroupCommit<Claim, Outcome>((_, claims) => this.oneByOneIfFailed(claims, (c) => this.claimAll(c)));
  private readonly completeTogether = createGroupCommit<Completion, Outcome>((_, done) => this.oneByOneIfFailed(done, (d) => this.completeAll(d)));

  constructor(
    private readonly db: Db,
    private readonly config: Pick<Config, 'IDEMPOTENCY_KEY_TTL_HOURS' | 'IDEMPOTENCY_LOCK_TIMEOUT_SECONDS' | 'IDEMPOTENCY_LEASE_SECONDS'>,
    metrics: Metrics,
  ) {
    this.outcomes = metrics.counter('idempotency_requests_total', 'Requests carrying an Idempotency-Key, by outcome', ['outcome']);
  }

  async execute(request: IdempotencyRequest, fn: () => Promise<HandlerResult>): Promise<HandlerResult> {
    const fingerprint = sha256(request.fingerprint);
    // The row can vanish between a lost claim and the read (released after a 5xx, purged): claim again.
    for (let attempt = 0; attempt < 5; attempt++) {
      const lockToken = randomUUID();
      if (await this.claim(request, fingerprint, lockToken)) return this.run(request, lockToken, fn);
      const row = await this.db('idempotency_keys')
        .where({ scope: request.scope, key: request.key })
        .andWhere('expires_at', '>', this.db.fn.now())
        .first<KeyRow | undefined>('fingerprint', 'state', 'response_status', 'response_headers', this.db.raw('response_body::text AS body_text'));
      if (!row) continue;
      if (row.fingerprint !== fingerprint) {
        this.outcomes.inc({ outcome: 'mismatch' });
        throw problems.unprocessable(
          'idempotency_key_reused',
          'This Idempotency-Key was already used for a different request; use a new key for a new request.',
        );
      }
      if (row.state === 'completed') {
        this.outcomes.inc({ outcome: 'replayed' });
        return replay(row);
      }
      this.outcomes.inc({ outcome: 'in_progress' });
      throw new Problem(
        409,
        'request_in_progress',
        'Request in progress',
        'A request with this Idempotency-Key is still being processed; retry shortly to get its result.',
        {},
        { 'Retry-After': '1' },
      );
    }
    throw new Error(`idempotency key ${request.scope}/${request.key} kept changing while being claimed`);
  }

  /** True when this call now owns the key: it was free, expired, or held by a lock that ran out. */
  private async claim(request: IdempotencyRequest, fingerprint: string, lockToken: string): Promise<boolean> {
    return settled(await this.claimTogether('claim', { scope: request.scope, key: request.key, fingerprint, lockToken }));
  }

  /**
   * One upsert for a batch of claims, in key order (two replicas' batches lock shared keys in the same order).
   * A key twice in one batch is claimed by its first request only: the later one loses as if it had come after
   * (ON CONFLICT DO UPDATE may not touch a row twice in one statement).
   */
  private async claimAll(claims: Claim[]): Promise<boolean[]> {
    const firsts = new Map<string, Claim>();
    for (const c of claims) if (!firsts.has(slot(c.scope, c.key))) firsts.set(slot(c.scope, c.key), c);
    const sorted = [...firsts.values()].sort((a, b) => (a.scope === b.scope ? (a.key < b.key ? -1 : 1) : a.scope < b.scope ? -1 : 1));
    const { rows } = await this.db.raw<{ rows: { lock_token: string }[] }>(
      `INSERT INTO idempotency_keys AS k (scope, key, fingerprint, state, lock_token, locked_until, expires_at)
       SELECT c.scope, c.key, c.fingerprint, 'in_progress', c.lock_token,
              now() + make_interval(secs => :lockSeconds), now() + make_interval(hours => :ttlHours)
         FROM unnest(:scopes::text[], :keys::text[], :fingerprints::text[], :tokens::uuid[]) WITH ORDINALITY
              AS c(scope, key, fingerprint, lock_token, n)
        ORDER BY c.n
       ON CONFLICT (scope, key) DO UPDATE SET
         fingerprint = EXCLUDED.fingerprint, state = 'in_progress', lock_token = EXCLUDED.lock_token,
         locked_until = EXCLUDED.locked_until, response_status = NULL, response_headers = NULL,
         response_body = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
       WHERE k.expires_at <= now()
          OR (k.state = 'in_progress' AND k.locked_until <= now() AND k.fingerprint = EXCLUDED.fingerprint)
       RETURNING k.lock_token`,
      {
        scopes: sorted.map((c) => c.scope),
        keys: sorted.map((c) => c.key),
        fingerprints: sorted.map((c) => c.fingerprint),
        tokens: sorted.map((c) => c.lockToken),
        lockSeconds: this.leaseSeconds,
        ttlHours: this.config.IDEMPOTENCY_KEY_TTL_HOURS,
      },
    );
    const won = new Set(rows.map((r) => r.lock_token));
    return claims.map((c) => won.has(c.lockToken));
  }

  /** A batch that failed as a whole goes again one by one, so one request's trouble (its error) is its own. */
  private async oneByOneIfFailed<T>(items: T[], run: (items: T[]) => Promise<boolean[]>): Promise<Outcome[]> {
    try {
      return await run(items);
    } catch (err) {
      if (items.length === 1) return [{ error: err }];
      const out: Outcome[] = [];
      for (const item of items) out.push(await run([item]).then(([ok]) => ok!, (error: unknown) => ({ error })));
      return out;
    }
  }

  /** Never longer than the most a live request may hold its key. */
  private get leaseSeconds(): number {
    return Math.min(this.config.IDEMPOTENCY_LEASE_SECONDS, this.config.IDEMPOTENCY_LOCK_TIMEOUT_SECONDS);
  }

  /** Renews the lease every third of it until stopped or until the request has held the key for the lock timeout. */
  private keepLease(request: IdempotencyRequest, lockToken: string): () => void {
    const lease = this.leaseSeconds;
    const giveUpAt = Date.now() + (this.config.IDEMPOTENCY_LOCK_TIMEOUT_SECONDS - lease) * 1000;
    const timer = setInterval(() => {
      if (Date.now() >= giveUpAt) return clearInterval(timer);
      this.db('idempotency_keys')
        .where({ scope: request.scope, key: request.key, lock_token: lockToken, state: 'in_progress' })
        .update({ locked_until: this.db.raw('now() + make_interval(secs => ?)', [lease]) })
        // A missed renewal only shortens the lease; the next one, or the handler's own outcome, follows.
        .catch(() => undefined);
    }, (lease * 1000) / 3);
    timer.unref();
    return () => clearInterval(timer);
  }

  private async run(request: IdempotencyRequest, lockToken: string, fn: () => Promise<HandlerResult>): Promise<HandlerResult> {
    let result: HandlerResult;
    const stopLease = this.keepLease(request, lockToken);
    try {
      result = await fn();
    } catch (err) {
      stopLease();
      // A business refusal (declined card, sold out) is the answer to this request and is replayed as such.
      const problem = asProblem(err);
      if (problem && isFinal(problem.status)) {
        await this.complete(request, lockToken, {
          status: problem.status,
          body: problem.toBody(),
          headers: { ...problem.headers, 'Content-Type': 'application/problem+json' },
        });
      } else {
        await this.release(request, lockToken);
      }
      throw err;
    }
    stopLease();
    if (isFinal(result.status)) await this.complete(request, lockToken, result);
    else await this.release(request, lockToken);
    return result;
  }

  private async complete(request: IdempotencyRequest, lockToken: string, result: HandlerResult): Promise<void> {
    const stored = settled(await this.completeTogether('complete', { scope: request.scope, key: request.key, lockToken, result }));
    // Not stored: the lock ran out and another request took the key over; its result is the one kept.
    this.outcomes.inc({ outcome: stored ? 'stored' : 'lock_lost' });
  }

  /** One UPDATE for a batch of responses; a row counts only while this request's lock token is still on it. */
  private async completeAll(done: Completion[]): Promise<boolean[]> {
    const { rows } = await this.db.raw<{ rows: { token: string }[] }>(
      `UPDATE idempotency_keys k SET
         state = 'completed', lock_token = NULL, locked_until = NULL,
         response_status = d.status, response_headers = d.headers::jsonb, response_body = d.body::json,
         -- Retention counts from the response, so a slow handler does not shorten the replay window.
         expires_at = now() + make_interval(hours => :ttlHours)
        FROM unnest(:scopes::text[], :keys::text[], :tokens::uuid[], :statuses::int[], :headers::text[], :bodies::text[])
             AS d(scope, key, token, status, headers, body)
       WHERE k.scope = d.scope AND k.key = d.key AND k.lock_token = d.token
       RETURNING d.token`,
      {
        scopes: done.map((d) => d.scope),
        keys: done.map((d) => d.key),
        tokens: done.map((d) => d.lockToken),
        statuses: done.map((d) => d.result.status),
        headers: done.map((d) => JSON.stringify(d.result.headers ?? {})),
        bodies: done.map((d) => (d.result.body === undefined ? null : JSON.stringify(d.result.body))),
        ttlHours: this.config.IDEMPOTENCY_KEY_TTL_HOURS,
      },
    );
    const stored = new Set(rows.map((r) => r.token));
    return done.map((d) => stored.has(d.lockToken));
  }

  private async release(request: IdempotencyRequest, lockToken: string): Promise<void> {
    await this.db('idempotency_keys').where({ scope: request.scope, key: request.key, lock_token: lockToken }).delete();
    this.outcomes.inc({ outcome: 'released' });
  }
}

function replay(row: KeyRow): HandlerResult {
  const headers = { ...(row.response_headers ?? {}), [REPLAYED_HEADER]: 'true' };
  const status = row.response_status as number;
  const body: unknown = row.body_text === null ? undefined : JSON.parse(row.body_text);
  const contentType = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1];
  if (contentType === 'application/problem+json') {
    // Rethrown so the error handler formats it like any other problem (with this request's id).
    const { type: _type, title, status: _status, detail, code, ...extra } = body as Record<string, unknown>;
    const { 'Content-Type': _ct, ...problemHeaders } = headers as Record<string, string>;
    throw new Problem(status, String(code), String(title), typeof detail === 'string' ? detail : undefined, extra, problemHeaders);
  }
  return { status, body, headers };
}
