import type { Config } from '../config';
import type { Db } from '../infra/db';
import type { Metrics } from '../infra/metrics';
import type { HandlerResult, IdempotencyGuard, IdempotencyRequest } from './http/api';
// STUB: replaced by the idempotency work.
export class PostgresIdempotencyGuard implements IdempotencyGuard {
  constructor(_db: Db, _config: Config, _metrics: Metrics) {}
  async execute(_r: IdempotencyRequest, fn: () => Promise<HandlerResult>): Promise<HandlerResult> {
    return fn();
  }
}
export async function purgeExpiredIdempotencyKeys(_db: Db): Promise<number> {
  return 0;
}
