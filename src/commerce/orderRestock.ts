import type { Knex } from 'knex';
import { refusals } from '../domain/errors';
import type { HotStock } from './hotStock';
import { restockSold } from './reservations';

/**
 * Units of an order put back on sale: by a refund naming them (returned goods), or by the cancellation, which puts
 * back whatever refunds have not. `order_items.restocked_quantity` counts them per line, and Postgres refuses more
 * than the line sold (order_items_restock_within_sold), so no unit is restocked twice whatever runs at once. Runs in
 * the caller's transaction (the refund's or the cancellation's): the lines are locked in id order, then inventory
 * (restockSold, its fixed order). Hot variants' Redis counters follow after the commit (restockedHotUnits).
 */

export interface RestockItem {
  variant_id: string;
  quantity: number;
}

export interface RestockedUnits extends RestockItem {
  hot: boolean;
}

export const RESTOCK_EXCEEDS_SOLD = 'restock_exceeds_sold'; // 422: more units than the order sold and has not restocked

interface LineRow {
  id: string;
  variant_id: string;
  quantity: number;
  restocked_quantity: number;
}

/** The units to take from each line: each variant's request spread over its lines in id order; refused beyond what is left. */
function allocate(lines: LineRow[], items: RestockItem[]): Map<string, number> {
  const wanted = new Map<string, number>();
  for (const i of items) wanted.set(i.variant_id, (wanted.get(i.variant_id) ?? 0) + i.quantity);
  const perLine = new Map<string, number>();
  for (const [variantId, n] of wanted) {
    const own = lines.filter((l) => l.variant_id === variantId);
    const left = own.reduce((s, l) => s + l.quantity - l.restocked_quantity, 0);
    if (n > left) {
      throw refusals.unprocessable(RESTOCK_EXCEEDS_SOLD, `The order has ${left} unit(s) of variant ${variantId} left to restock; ${n} asked.`, {
        variant_id: variantId,
        restockable: left,
      });
    }
    let rest = n;
    for (const l of own) {
      const take = Math.min(rest, l.quantity - l.restocked_quantity);
      if (take > 0) perLine.set(l.id, take);
      rest -= take;
    }
  }
  return perLine;
}

/**
 * Restocks `items` of the order (all it has not restocked yet when `items` is absent) and returns the units per
 * variant. 422 `restock_exceeds_sold` when an item asks for more than its lines have left.
 */
export async function restockOrderItems(trx: Knex.Transaction, order: { id: string; store_id: string }, items?: RestockItem[]): Promise<RestockedUnits[]> {
  const lines = (await trx('order_items').where({ order_id: order.id }).orderBy('id').forUpdate().select('id', 'variant_id', 'quantity', 'restocked_quantity')) as LineRow[];
  const everything = lines.filter((l) => l.restocked_quantity < l.quantity).map((l) => ({ variant_id: l.variant_id, quantity: l.quantity - l.restocked_quantity }));
  const perLine = allocate(lines, items ?? everything);
  if (perLine.size === 0) return [];
  for (const [id, n] of perLine) await trx('order_items').where({ id }).increment('restocked_quantity', n);
  const perVariant = new Map<string, number>();
  for (const l of lines) if (perLine.has(l.id)) perVariant.set(l.variant_id, (perVariant.get(l.variant_id) ?? 0) + perLine.get(l.id)!);
  const restocked = [...perVariant].map(([variant_id, quantity]) => ({ variant_id, quantity }));
  await restockSold(trx, order.store_id, restocked);
  const hot = new Set(((await trx('variants').whereIn('id', [...perVariant.keys()]).where({ hot: true }).select('id')) as Array<{ id: string }>).map((r) => r.id));
  return restocked.map((r) => ({ ...r, hot: hot.has(r.variant_id) }));
}

/** After the commit: the units restocked of hot variants go back to their Redis counters (where those exist). */
export async function restockedHotUnits(hotStock: HotStock, units: RestockedUnits[]): Promise<void> {
  for (const u of units) if (u.hot) await hotStock.adjust(u.variant_id, u.quantity);
}
