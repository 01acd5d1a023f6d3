import type { Config } from '../config';
import { escapeLike } from '../infra/db';
import type { Metrics } from '../infra/metrics';
import { repairLog, type RepairRun } from '../operator/repairLog';
import type { RedisClient } from '../infra/redis';
import { createPaymentService, type PaymentServiceDeps } from '../payments/paymentService';
import type { TemporalClientProvider } from '../temporal/client';
import type { ReconcileScope } from './contract';
import { ensureHoldSweepers, missingHoldSweepers } from './holdSweepers';
import { HotStock, hotStockKey } from './hotStock';
import { recordOrderCharge, type OrderChargeSettings } from './orderCharges';
import { releaseOverdueHolds } from './reservations';

/**
 * Commerce reconciliation: the repairs the `commerce-reconcile` schedule runs (workflow `reconcileCommerce`).
 * Every repair is idempotent, logged, counted in `reconciliation_repairs_total{kind}` and kept for the operators
 * (reconciliation_repairs, with the run that made it: `run`, from the activity).
 */

const REPAIRS = 'reconciliation_repairs_total';
const REPAIRS_HELP = 'Repairs made by the commerce reconciliation (orphaned authorizations, stale reservations, missing hold sweepers, hot counter drift, missing order charges)';
const BATCH = 500;

/** KEYS: counter. ARGV: expected (the value read), value. Overwrites only if nobody changed it since; keeps the TTL. */
const COMPARE_AND_SET = `
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[1] then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1`;

export interface ReconciliationDeps extends PaymentServiceDeps {
  config: Pick<Config, 'RECONCILE_GRACE' | 'TASK_QUEUE' | 'RESERVATION_TTL' | 'TEMPORAL_UPDATE_TIMEOUT' | 'HOLD_EXPIRY_SHARDS'> & OrderChargeSettings;
  redis: RedisClient;
  metrics: Metrics;
  temporal: TemporalClientProvider;
}

export function createReconciliation(deps: ReconciliationDeps) {
  const { db, redis, logger, config } = deps;
  const hotStock = new HotStock(redis, db, logger);
  const repairs = () => deps.metrics.counter(REPAIRS, REPAIRS_HELP, ['kind']);
  const graceSeconds = () => config.RECONCILE_GRACE / 1000;

  return {
    /**
     * Checkout authorizations (`checkout:<key>:authorize`) still holding money after the grace period with no
     * order pointing at them: the checkout died between authorizing and creating the order. Voided.
     */
    async voidOrphanedAuthorizations(scope: ReconcileScope = {}, run?: RepairRun): Promise<number> {
      const keep = repairLog(db, logger, run);
      const service = createPaymentService(deps);
      const q = db('payments as p')
        .where('p.business_key', 'like', 'checkout:%:authorize')
        .andWhere('p.status', 'requires_capture')
        .andWhere('p.created_at', '<', db.raw(`now() - make_interval(secs => ?)`, [graceSeconds()]))
        .whereNotExists(db('orders as o').select(db.raw('1')).whereRaw('o.payment_key = p.business_key'))
        .orderBy('p.created_at')
        .limit(BATCH)
        .pluck('p.business_key');
      if (scope.paymentKeyPrefix) q.andWhere('p.business_key', 'like', `${escapeLike(scope.paymentKeyPrefix)}%`);
      const keys = (await q) as string[];
      let voided = 0;
      for (const businessKey of keys) {
        try {
          const p = await service.cancelPayment({ businessKey });
          if (p.status !== 'canceled') continue;
          voided++;
          repairs().inc({ kind: 'orphaned_authorization' });
          await keep({ domain: 'commerce', kind: 'orphaned_authorization', subject: businessKey });
          logger.warn({ businessKey, repair: 'orphaned_authorization' }, 'reconciliation voided an authorization with no order');
        } catch (err) {
          // One bad row must not stop the sweep; the next run tries again.
          logger.error({ err, businessKey }, 'reconciliation could not void an orphaned authorization');
        }
      }
      return voided;
    },

    /**
     * Held reservations past their expiry by more than the grace period: their sweeper is gone or far behind
     * (workers down, a shard count lowered). Released (stock back, hot counters follow), in batches; idempotent.
     */
    async releaseStaleReservations(scope: ReconcileScope = {}, run?: RepairRun): Promise<number> {
      const keep = repairLog(db, logger, run);
      let released = 0;
      for (;;) {
        const result = await releaseOverdueHolds(db, { graceSeconds: graceSeconds(), storeId: scope.storeId, limit: BATCH }, hotStock);
        if (!result.released) return released;
        released += result.released;
        repairs().inc({ kind: 'stale_reservation' }, result.released);
        await keep({ domain: 'commerce', kind: 'stale_reservation', subject: `${result.variantIds.length} variant(s)`, count: result.released, detail: { variant_ids: result.variantIds } });
        logger.warn({ released: result.released, variantIds: result.variantIds, repair: 'stale_reservation' }, 'reconciliation released stale reservations');
        if (result.released < BATCH) return released;
      }
    },

    /**
     * Orders whose payment was captured (and not refunded in full) longer than the grace period ago but that have no
     * seller charge: the checkout's step after the capture never finished (a workflow terminated, a bug fixed
     * since). Their capture line, charge and receipt are recorded (recordOrderCharge, idempotent). Only orders
     * placed under billing (with a usage event) are looked at: older orders are not billed after the fact.
     */
    async recordMissingOrderCharges(scope: ReconcileScope = {}, run?: RepairRun): Promise<number> {
      const keep = repairLog(db, logger, run);
      const q = db('orders as o')
        .join('payments as p', 'p.business_key', 'o.payment_key')
        .where('p.captured_cents', '>', 0)
        .whereRaw('p.refunded_cents < p.captured_cents')
        .andWhere('p.updated_at', '<', db.raw(`now() - make_interval(secs => ?)`, [graceSeconds()]))
        .whereExists(db('usage_events as u').select(db.raw('1')).whereRaw(`u.store_id = o.store_id AND u.kind = 'gmv' AND u.source_id = o.id`))
        .whereNotExists(db('seller_charges as c').select(db.raw('1')).whereRaw(`c.source_kind = 'order' AND c.source_id = o.id`))
        .orderBy('p.updated_at')
        .limit(BATCH)
        .pluck('o.id');
      if (scope.storeId) q.andWhere('o.store_id', scope.storeId);
      if (scope.paymentKeyPrefix) q.andWhere('o.payment_key', 'like', `${escapeLike(scope.paymentKeyPrefix)}%`);
      let recorded = 0;
      for (const orderId of (await q) as string[]) {
        try {
          const result = await recordOrderCharge(db, orderId, config);
          if (result.status !== 'recorded' || !result.created) continue;
          recorded++;
          repairs().inc({ kind: 'order_charge_missing' });
          await keep({ domain: 'commerce', kind: 'order_charge_missing', subject: orderId, detail: { charge_id: result.chargeId, invoice_id: result.invoiceId } });
          logger.warn({ orderId, chargeId: result.chargeId, invoiceId: result.invoiceId, repair: 'order_charge_missing' }, 'reconciliation recorded the charge of a captured order');
        } catch (err) {
          // One bad row must not stop the sweep; the next run tries again.
          logger.error({ err, orderId }, 'reconciliation could not record the charge of a captured order');
        }
      }
      return recorded;
    },

    /** Hold-expiry sweepers that are not running (never started, failed, terminated): started. */
    async startMissingHoldSweepers(run?: RepairRun): Promise<number> {
      const missing = await missingHoldSweepers(deps);
      if (!missing.length) return 0;
      await ensureHoldSweepers(deps);
      repairs().inc({ kind: 'hold_sweeper_missing' }, missing.length);
      await repairLog(db, logger, run)({ domain: 'commerce', kind: 'hold_sweeper_missing', subject: `shard(s) ${missing.join(', ')}`, count: missing.length, detail: { shards: missing } });
      logger.warn({ shards: missing, repair: 'hold_sweeper_missing' }, 'reconciliation started missing hold-expiry sweepers');
      return missing.length;
    },

    /**
     * Hot variants whose Redis counter disagrees with Postgres (total_stock - reserved - sold): overwritten with the
     * Postgres value (compare-and-set, so a concurrent take is not clobbered). Missing counters are left alone:
     * they are rebuilt from Postgres on the next take.
     */
    async correctHotCounters(scope: ReconcileScope = {}, run?: RepairRun): Promise<number> {
      const keep = repairLog(db, logger, run);
      const q = db('variants as v')
        .join('inventory as i', 'i.variant_id', 'v.id')
        .where('v.hot', true)
        .select('v.id', db.raw('GREATEST(0, i.total_stock - i.reserved - i.sold)::int AS available'));
      if (scope.storeId) q.andWhere('v.store_id', scope.storeId);
      const rows = (await q) as { id: string; available: number }[];
      let corrected = 0;
      for (let i = 0; i < rows.length; i += BATCH) {
        const chunk = rows.slice(i, i + BATCH);
        // One key per GET: the keys live in different Redis Cluster slots.
        const values = await Promise.all(chunk.map((r) => redis.get(hotStockKey(r.id))));
        for (const [j, row] of chunk.entries()) {
          const raw = values[j];
          if (raw === null || raw === undefined || Number(raw) === Number(row.available)) continue;
          const set = Number(await redis.eval(COMPARE_AND_SET, 1, hotStockKey(row.id), raw, Number(row.available)));
          if (!set) continue;
          corrected++;
          repairs().inc({ kind: 'hot_counter_drift' });
          await keep({ domain: 'commerce', kind: 'hot_counter_drift', subject: row.id, detail: { redis: Number(raw), postgres: Number(row.available) } });
          logger.warn({ variantId: row.id, redis: Number(raw), postgres: Number(row.available), repair: 'hot_counter_drift' }, 'reconciliation corrected a drifted hot stock counter');
        }
      }
      return corrected;
    },
  };
}
