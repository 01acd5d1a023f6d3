import type { Config } from '../config';
import { refusals } from '../domain/errors';
import { MAX_SLOT_WINDOW_DAYS } from '../domain/slots';
import { localDate, localDatesBetween, slotDays, weekOf, type Calendar } from './availabilityCache';
import { factorsOn, priceWith, quoteFor, type PricingDeps } from './pricing';
import { quoteSigningKey, signQuote } from './quotes';
import { loadProvider, loadService } from './rows';

/**
 * A service's free slots with their prices (GET /v1/services/{id}/slots), quotes that lock one slot's price
 * (POST /v1/services/{id}/quotes), and the next free slot search shows. All read the per-day cache
 * (availabilityCache.ts): "free" is free on the grid when read; the hold's exclusion constraint is the gate.
 */

const DAY = 86_400_000;
export const DEFAULT_SLOT_WINDOW_DAYS = 7;
/** How far ahead search looks for a service's next free slot. */
export const NEXT_AVAILABLE_HORIZON_DAYS = 14;

export type DiscoveryDeps = PricingDeps & { config: PricingDeps['config'] & Pick<Config, 'QUOTE_TTL' | 'QUOTE_SIGNING_SECRET' | 'JWT_SECRET'> };

export interface SlotJson {
  start: string;
  end: string;
  price_cents: number;
}

export interface SlotList {
  time_zone: string;
  slots: SlotJson[];
}

const iso = (t: number) => new Date(t).toISOString();

/** A bookable service and its provider: both active, else 404 (an inactive one is not told apart from none). */
export async function bookableCalendar(deps: Pick<PricingDeps, 'db'>, serviceId: string): Promise<Calendar> {
  const service = await loadService(deps.db, serviceId);
  const provider = service?.active ? await loadProvider(deps.db, service.provider_id) : undefined;
  if (!service || !provider || provider.status !== 'active') throw refusals.notFound('service');
  return { provider, service };
}

/** [from, to) of a slot request: defaults from = now, to = from + 7 days; at most MAX_SLOT_WINDOW_DAYS. */
export function slotWindow(q: { from?: string; to?: string }, now: number): { from: number; to: number } {
  const from = q.from !== undefined ? Date.parse(q.from) : now;
  const to = q.to !== undefined ? Date.parse(q.to) : from + DEFAULT_SLOT_WINDOW_DAYS * DAY;
  if (to <= from) throw refusals.invalid([{ path: 'query.to', message: 'must be after from' }], 'The window ends before it starts.');
  if (to - from > MAX_SLOT_WINDOW_DAYS * DAY) {
    throw refusals.invalid([{ path: 'query.to', message: `the window is at most ${MAX_SLOT_WINDOW_DAYS} days` }], `At most ${MAX_SLOT_WINDOW_DAYS} days of slots per request.`);
  }
  return { from, to };
}

/** The free slots starting in [from, to) and not before now, each with its dynamic price. */
export async function listSlots(deps: PricingDeps, serviceId: string, window: { from: number; to: number }, now: number): Promise<SlotList> {
  const cal = await bookableCalendar(deps, serviceId);
  const zone = cal.provider.time_zone;
  const lowest = Math.max(window.from, now);
  const dates = lowest < window.to ? localDatesBetween(zone, lowest, window.to) : [];
  // Prices need each day's whole ISO week (its demand), so the weeks around the window are read too.
  const needed = [...new Set(dates.flatMap(weekOf))].sort();
  const days = await slotDays(deps, cal, needed);
  const slots: SlotJson[] = [];
  for (const date of dates) {
    const { priceCents } = priceWith(deps.config, cal.service, factorsOn(deps.config, cal.provider, days, date));
    for (const s of days.get(date)?.free ?? []) {
      if (s.start >= lowest && s.start < window.to) slots.push({ start: iso(s.start), end: iso(s.end), price_cents: priceCents });
    }
  }
  return { time_zone: zone, slots };
}

export interface QuoteJson {
  id: string;
  service_id: string;
  start: string;
  end: string;
  price_cents: number;
  currency: string;
  breakdown: { base_cents: number; multipliers: { demand: number; experience: number; location: number }; total_multiplier: number };
  expires_at: string;
}

/** Locks the price of one free slot for QUOTE_TTL as a signed quote; 409 `slot_unavailable` when it is not free now. */
export async function createQuote(deps: DiscoveryDeps, serviceId: string, startIso: string, now: number): Promise<QuoteJson> {
  const { provider, service } = await bookableCalendar(deps, serviceId);
  const start = Date.parse(startIso);
  const quote = start > now ? await quoteFor(deps, service, provider, start) : undefined;
  if (!quote?.slot) throw refusals.conflict('slot_unavailable', 'That start is not a free slot of this service; list the slots and pick one.');
  const expiresAt = iso(now + deps.config.QUOTE_TTL);
  const claims = {
    serviceId: service.id,
    providerId: provider.id,
    start: iso(quote.slot.start),
    end: iso(quote.slot.end),
    priceCents: quote.priceCents,
    currency: service.currency,
    breakdown: quote.breakdown,
    expiresAt,
  };
  return {
    id: signQuote(quoteSigningKey(deps.config), claims),
    service_id: service.id,
    start: claims.start,
    end: claims.end,
    price_cents: quote.priceCents,
    currency: service.currency,
    breakdown: quote.breakdown,
    expires_at: expiresAt,
  };
}

/** The start of the service's first free slot from now within NEXT_AVAILABLE_HORIZON_DAYS, or null. */
export async function nextAvailableAt(deps: PricingDeps, cal: Calendar, now: number): Promise<string | null> {
  const dates = localDatesBetween(cal.provider.time_zone, now, now + NEXT_AVAILABLE_HORIZON_DAYS * DAY);
  const days = await slotDays(deps, cal, dates);
  for (const date of dates) {
    const slot = days.get(date)?.free.find((s) => s.start >= now);
    if (slot) return iso(slot.start);
  }
  return null;
}

/** Whether the service has a free slot (from now on) on the provider's local `date`. */
export async function freeOn(deps: PricingDeps, cal: Calendar, date: string, now: number): Promise<boolean> {
  if (date < localDate(cal.provider.time_zone, now)) return false;
  const days = await slotDays(deps, cal, [date]);
  return (days.get(date)?.free ?? []).some((s) => s.start >= now);
}
