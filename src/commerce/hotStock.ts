import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import { LuaScript } from './luaScript';
import { redisWithin } from './redisDeadline';

/**
 * Redis pre-filter for hot (flash-sale) variants (DESIGN.md, invariant 1). Postgres stays the final gate: this
 * only turns away, without touching Postgres, requests that cannot possibly succeed, so a sale's crowd does not
 * queue on one inventory row.
 *
 * Keys (hash tag `{<variant id>}`, so a script's keys share one Redis Cluster slot):
 * - `stock:{<variant>}:available`: units free per Redis; rebuilt from Postgres (total_stock - reserved - sold,
 *   SET NX) when missing, and given a TTL so any drift (a crash between Redis and Postgres, a restock, an order
 *   cancelled elsewhere) heals by itself at the next rebuild.
 * - `stock:{<variant>}:hold:<hold id>`: the units one request (hold id) took, so a retried request never takes
 *   twice in Redis.
 *
 * Drift is only ever allowed upward (Redis believing more is free than Postgres): then Postgres refuses and the
 * units are given back. Every Redis failure or timeout means "no answer": the caller goes to Postgres.
 */

export const HOT_STOCK_COUNTER_TTL_SECONDS = 60;
export const HOT_STOCK_HOLD_TTL_SECONDS = 15 * 60;
/** Slower than this is treated as down for this request; Postgres answers anyway. */
const REDIS_TIMEOUT_MS = 1_000;

export const hotStockKey = (variantId: string) => `stock:{${variantId}}:available`;
export const hotHoldKey = (variantId: string, holdId: string) => `stock:{${variantId}}:hold:${holdId}`;

/** KEYS: counter, hold. ARGV: n, hold TTL seconds. */
const TAKE = new LuaScript(`
local held = redis.call('GET', KEYS[2])
if held then return {'replay', tonumber(held)} end
local cur = redis.call('GET', KEYS[1])
if not cur then return {'rebuild', 0} end
cur = tonumber(cur)
local n = tonumber(ARGV[1])
if cur >= n then
  local left = redis.call('DECRBY', KEYS[1], n)
  redis.call('SET', KEYS[2], n, 'EX', tonumber(ARGV[2]))
  return {'ok', left}
end
return {'insufficient', cur}`);

/** Undo of TAKE (Postgres refused): KEYS counter, hold. ARGV: n. The counter grows only if it exists. */
const GIVE_BACK = `
redis.call('DEL', KEYS[2])
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], tonumber(ARGV[1])) end
return false`;

/** KEYS: counter. ARGV: delta. Applied only while the counter exists (a missing one is rebuilt from Postgres). */
const ADJUST_IF_EXISTS = `
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], tonumber(ARGV[1])) end
return false`;

export type TakeResult =
  | { kind: 'taken'; left: number }
  /** This hold id already took its units in Redis: nothing taken again. */
  | { kind: 'replayed'; quantity: number }
  | { kind: 'insufficient'; available: number }
  /** Redis did not answer: decide in Postgres. */
  | { kind: 'unavailable' };

const withTimeout = <T>(promise: Promise<T>, what: string) => redisWithin(promise, REDIS_TIMEOUT_MS, what);

export class HotStock {
  constructor(
    private readonly redis: RedisClient,
    private readonly db: Db,
    private readonly logger?: Logger,
  ) {}

  /** Check-and-reserve `n` units for hold `holdId`; rebuilds a missing counter from Postgres once. */
  async take(storeId: string, variantId: string, n: number, holdId: string): Promise<TakeResult> {
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const [kind, value] = (await withTimeout(
          TAKE.run(this.redis, [hotStockKey(variantId), hotHoldKey(variantId, holdId)], [n, HOT_STOCK_HOLD_TTL_SECONDS]),
          'take',
        )) as [string, number];
        if (kind === 'ok') return { kind: 'taken', left: Number(value) };
        if (kind === 'replay') return { kind: 'replayed', quantity: Number(value) };
        if (kind === 'insufficient') return { kind: 'insufficient', available: Math.max(0, Number(value)) };
        // 'rebuild': the counter is gone (eviction, flush, TTL); Postgres knows.
        if (!(await this.rebuild(storeId, variantId))) return { kind: 'unavailable' };
      }
    } catch (err) {
      this.logger?.warn({ err, variantId }, 'hot stock pre-filter unavailable; Postgres decides');
    }
    return { kind: 'unavailable' };
  }

  /**
   * The units the counter says are free, without taking any; undefined when there is no counter or no answer.
   * For turning a sold-out crowd away before any other work: the counter only drifts upward (see above), so
   * fewer than asked here means Postgres would refuse too.
   */
  async peek(variantId: string): Promise<number | undefined> {
    try {
      const raw = await withTimeout(this.redis.get(hotStockKey(variantId)), 'peek');
      return raw === null ? undefined : Number(raw);
    } catch (err) {
      this.logger?.warn({ err, variantId }, 'hot stock pre-filter unavailable; Postgres decides');
      return undefined;
    }
  }

  /**
   * Sets the counter from Postgres unless another rebuild got there first (SET NX). False when the variant has
   * no inventory in that store (the Postgres path then answers).
   */
  async rebuild(storeId: string, variantId: string): Promise<boolean> {
    const row = (await this.db('inventory')
      .where({ variant_id: variantId, store_id: storeId })
      .first(this.db.raw('GREATEST(0, total_stock - reserved - sold)::int AS available'))) as { available: number } | undefined;
    if (!row) return false;
    await withTimeout(this.redis.set(hotStockKey(variantId), Number(row.available), 'EX', HOT_STOCK_COUNTER_TTL_SECONDS, 'NX'), 'rebuild');
    return true;
  }

  /** Returns units a take got in Redis when Postgres then refused them (or failed). Never throws. */
  async giveBack(variantId: string, n: number, holdId: string): Promise<void> {
    try {
      await withTimeout(this.redis.eval(GIVE_BACK, 2, hotStockKey(variantId), hotHoldKey(variantId, holdId), n), 'give back');
    } catch (err) {
      this.logger?.warn({ err, variantId, n }, `hot stock not given back; the counter heals within ${HOT_STOCK_COUNTER_TTL_SECONDS} s`);
    }
  }

  /**
   * Mirrors a committed Postgres change into the counter while it exists: +n for released or lowered holds,
   * -n for holds taken without the pre-filter. Never throws.
   */
  async adjust(variantId: string, delta: number): Promise<void> {
    if (delta === 0) return;
    try {
      await withTimeout(this.redis.eval(ADJUST_IF_EXISTS, 1, hotStockKey(variantId), delta), 'adjust');
    } catch (err) {
      this.logger?.warn({ err, variantId, delta }, `hot stock counter not adjusted; it heals within ${HOT_STOCK_COUNTER_TTL_SECONDS} s`);
    }
  }

  /** Drops the counter (e.g. after a restock) so the next take rebuilds it from Postgres. Never throws. */
  async forget(variantId: string): Promise<void> {
    try {
      await withTimeout(this.redis.del(hotStockKey(variantId)), 'forget');
    } catch (err) {
      this.logger?.warn({ err, variantId }, `hot stock counter not dropped; it heals within ${HOT_STOCK_COUNTER_TTL_SECONDS} s`);
    }
  }

  /** Whether the variant is flagged hot (flash sale). */
  async isHot(storeId: string, variantId: string): Promise<boolean> {
    const row = (await this.db('variants').where({ id: variantId, store_id: storeId }).first('hot')) as { hot: boolean } | undefined;
    return row?.hot === true;
  }
}
