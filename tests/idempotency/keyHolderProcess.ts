import { PostgresIdempotencyGuard } from '../../src/api/http/idempotency';
import { createDb } from '../../src/infra/db';
import { Metrics } from '../../src/infra/metrics';

/**
 * Run as its own process by leaseAfterCrash.test.ts: claims an Idempotency-Key for a request whose handler never
 * finishes, says "claimed" and keeps running (renewing the lease) until the test kills it.
 */
const [scope, key, leaseSeconds] = process.argv.slice(2) as [string, string, string];
const db = createDb(process.env.DATABASE_URL!, 2);
const guard = new PostgresIdempotencyGuard(
  db,
  { IDEMPOTENCY_KEY_TTL_HOURS: 24, IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: 120, IDEMPOTENCY_LEASE_SECONDS: Number(leaseSeconds) },
  new Metrics(),
);
void guard.execute({ scope, key, fingerprint: 'POST /v1/checkout {}' }, () => {
  console.log('claimed');
  return new Promise(() => undefined);
});
