import { createHash, randomUUID } from 'node:crypto';
import type { Config } from '../../config';
import type { Db } from '../../infra/db';
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
    const { rows } = await this.db.raw<{ rows: unknown[] }>(
      `INSERT INTO idempotency_keys AS k (scope, key, fingerprint, state, lock_token, locked_until, expires_at)
       VALUES (:scope, :key, :fingerprint, 'in_progress', :lockToken,
               now() + make_interval(secs => :lockSeconds), now() + make_interval(hours => :ttlHours))
       ON CONFLICT (scope, key) DO UPDATE SET
         fingerprint = EXCLUDED.fingerprint, state = 'in_progress', lock_token = EXCLUDED.lock_token,
         locked_until = EXCLUDED.locked_until, response_status = NULL, response_headers = NULL,
         response_body = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
       WHERE k.expires_at <= now()
          OR (k.state = 'in_progress' AND k.locked_until <= now() AND k.fingerprint = EXCLUDED.fingerprint)
       RETURNING 1`,
      {
        scope: request.scope,
        key: request.key,
        fingerprint,
        lockToken,
        lockSeconds: this.leaseSeconds,
        ttlHours: this.config.IDEMPOTENCY_KEY_TTL_HOURS,
      },
    );
    return rows.length === 1;
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
    const updated = await this.db('idempotency_keys')
      .where({ scope: request.scope, key: request.key, lock_token: lockToken })
      .update({
        state: 'completed',
        lock_token: null,
        locked_until: null,
        response_status: result.status,
        response_headers: JSON.stringify(result.headers ?? {}),
        response_body: result.body === undefined ? null : JSON.stringify(result.body),
        // Retention counts from the response, so a slow handler does not shorten the replay window.
        expires_at: this.db.raw('now() + make_interval(hours => ?)', [this.config.IDEMPOTENCY_KEY_TTL_HOURS]),
      });
    // Zero rows: the lock ran out and another request took the key over; its result is the one kept.
    this.outcomes.inc({ outcome: updated === 1 ? 'stored' : 'lock_lost' });
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
