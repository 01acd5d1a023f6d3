import type { Config } from '../config';
import { dynamicPrice, type PriceBreakdown, type PriceFactors } from '../domain/bookingPrices';
import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { Slot } from '../domain/slots';
import type { Logger } from '../logger';
import { localDate, slotDays, weekOf, type DayEntry } from './availabilityCache';
import type { ProviderRow, ServiceRow } from './rows';

/**
 * Dynamic prices of a service's slots (issue 12): the factors are gathered here (demand from the provider's
 * cached slot days, experience from the provider's row, location from configuration) and the pure rule
 * (src/domain/bookingPrices.ts) turns them into a price. Every slot of one local day has the same factors, so
 * the slot list prices a day once and a quote for any of its slots gives the same price.
 */

export type PricingConfig = Pick<Config, 'PRICE_MULTIPLIER_MIN' | 'PRICE_MULTIPLIER_MAX' | 'PRICE_LOCATION_MULTIPLIERS'>;

export interface PricingDeps {
  config: PricingConfig;
  db: Db;
  redis: RedisClient;
  logger?: Logger;
}

export interface Price {
  priceCents: number;
  breakdown: PriceBreakdown;
}

/** PRICE_LOCATION_MULTIPLIERS (parsed by src/config.ts): the provider's city, else its country, else 1. */
export function locationMultiplier(config: PricingConfig, provider: Pick<ProviderRow, 'country' | 'city'>): number {
  const table = config.PRICE_LOCATION_MULTIPLIERS;
  const country = provider.country.toUpperCase();
  return table[`${country}/${provider.city.trim().toLowerCase()}`] ?? table[country] ?? 1;
}

/** Share of the grid's slots on these days that are taken (0 when the days have no slots). */
function bookedShare(entries: (DayEntry | undefined)[]): number {
  let total = 0;
  let free = 0;
  for (const e of entries) {
    total += e?.total ?? 0;
    free += e?.free.length ?? 0;
  }
  return total === 0 ? 0 : Math.max(0, total - free) / total;
}

/** The factors of a slot on `date` (the provider's local date), from the slot days of that date's ISO week. */
export function factorsOn(config: PricingConfig, provider: ProviderRow, days: Map<string, DayEntry>, date: string): PriceFactors {
  return {
    demandShare: bookedShare([days.get(date)]),
    weekDemandShare: bookedShare(weekOf(date).map((d) => days.get(d))),
    completedBookings: provider.completed_count,
    ratingAverage: provider.rating_count > 0 ? provider.rating_sum / provider.rating_count : null,
    ratingCount: provider.rating_count,
    locationMultiplier: locationMultiplier(config, provider),
  };
}

export const priceWith = (config: PricingConfig, service: ServiceRow, factors: PriceFactors): Price =>
  dynamicPrice(service.base_price_cents, factors, { min: config.PRICE_MULTIPLIER_MIN, max: config.PRICE_MULTIPLIER_MAX });

/** The lowest price any slot of the service can have: what search lists as `from_price_cents`. */
export const fromPriceCents = (config: PricingConfig, baseCents: number): number => Math.max(1, Math.round(baseCents * config.PRICE_MULTIPLIER_MIN));

/** The slot days of the ISO week around `start`'s local date: its demand and whether `start` is free. */
async function weekAround(deps: PricingDeps, provider: ProviderRow, service: ServiceRow, start: number) {
  const date = localDate(provider.time_zone, start);
  const days = await slotDays(deps, { provider, service }, weekOf(date));
  return { date, days, factors: factorsOn(deps.config, provider, days, date) };
}

/** The price factors of a slot of `service` starting at `start` (epoch ms). */
export async function priceFactors(deps: PricingDeps, provider: ProviderRow, service: ServiceRow, start: number): Promise<PriceFactors> {
  return (await weekAround(deps, provider, service, start)).factors;
}

/**
 * The dynamic price of a slot of `service` starting at `start` (epoch ms), and that slot when it is free on the
 * grid now (cached days; the exclusion constraint is the gate at hold time).
 */
export async function quoteFor(deps: PricingDeps, service: ServiceRow, provider: ProviderRow, start: number): Promise<Price & { slot: Slot | undefined }> {
  const { date, days, factors } = await weekAround(deps, provider, service, start);
  return { ...priceWith(deps.config, service, factors), slot: days.get(date)?.free.find((s) => s.start === start) };
}
