import type { Knex } from 'knex';
import { DomainError, refusals } from '../domain/errors';
import { boundingBox, EARTH_RADIUS_KM, type LatLng } from '../domain/geo';
import { isIsoDate, type Calendar } from './availabilityCache';
import { fromPriceCents, type PricingDeps } from './pricing';
import { renderProviderSummary, type ProviderSummary } from './providers';
import { serviceFromRow, type ProviderRow } from './rows';
import { renderService, type ServiceJson } from './services';
import { freeOn, nextAvailableAt } from './slotListing';

/**
 * Service search (GET /v1/services/search): active services of active providers, filtered by full text
 * (services.search + providers.search, websearch syntax), category, distance (the bounding box on the indexed
 * lat/lng first, then the exact haversine in SQL), minimum rating and "a free slot on that local day" (the cached
 * slot days), sorted by relevance, rating, price or distance. Keyset-paged: the cursor is the last row's sort key
 * and id, so pages neither skip nor repeat while the ranking holds still.
 */

export const SEARCH_SORTS = ['relevance', 'rating', 'price', 'distance'] as const;
export type SearchSort = (typeof SEARCH_SORTS)[number];

export const DEFAULT_RADIUS_KM = 50;
export const MAX_RADIUS_KM = 20_000;
/** available_on filters after SQL: at most this many batches are read for one page, which may then come back short (with a cursor). */
const MAX_FILTER_ROUNDS = 5;

export interface SearchQuery {
  q?: string;
  category?: string;
  /** "lat,lng" */
  near?: string;
  radius_km?: number;
  min_rating?: number;
  /** YYYY-MM-DD, the provider's local date. */
  available_on?: string;
  sort?: SearchSort;
  limit: number;
  cursor?: string;
}

export interface SearchHit {
  service: ServiceJson;
  provider: ProviderSummary;
  distance_km?: number;
  next_available_at: string | null;
  from_price_cents: number;
}

const invalid = (path: string, message: string) => refusals.invalid([{ path: `query.${path}`, message }]);
const NEAR = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KEY = /^-?\d{1,20}(\.\d{1,6})?$/;

function parseNear(near: string): LatLng {
  const m = NEAR.exec(near);
  const lat = Number(m?.[1]);
  const lng = Number(m?.[2]);
  if (!m || !(lat >= -90 && lat <= 90) || !(lng >= -180 && lng <= 180)) throw invalid('near', 'must be "lat,lng" with lat in -90..90 and lng in -180..180');
  return { lat, lng };
}

interface Plan {
  sort: SearchSort;
  near?: LatLng;
  radiusKm: number;
}

function plan(q: SearchQuery): Plan {
  const near = q.near !== undefined ? parseNear(q.near) : undefined;
  if (q.radius_km !== undefined && !near) throw invalid('radius_km', 'needs near');
  if (q.available_on !== undefined && !isIsoDate(q.available_on)) throw invalid('available_on', 'must be a date YYYY-MM-DD');
  const sort = q.sort ?? 'relevance';
  if (sort === 'distance' && !near) throw invalid('sort', 'sorting by distance needs near');
  // Relevance without words to match ranks by rating.
  return { sort: sort === 'relevance' && q.q === undefined ? 'rating' : sort, near, radiusKm: q.radius_km ?? DEFAULT_RADIUS_KM };
}

// Cursors: [sort, key (numeric text, 6 decimals at most), service id].
const encodeCursor = (sort: SearchSort, key: string, id: string) => Buffer.from(JSON.stringify([sort, key, id])).toString('base64url');

function decodeCursor(cursor: string, sort: SearchSort): { key: string; id: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 3) {
      const [s, key, id] = value as unknown[];
      if (s === sort && typeof key === 'string' && KEY.test(key) && typeof id === 'string' && UUID.test(id)) return { key, id };
    }
  } catch {
    // falls through
  }
  throw new DomainError('invalid', 'invalid_cursor', 'The cursor is not one this search returned (with this sort).', {}, 'Invalid cursor');
}

interface Candidate {
  id: string;
  provider_id: string;
  sort_key: string;
  distance_km: number | null;
}

const haversineSql = (near: LatLng): [string, number[]] => [
  `(2 * ${EARTH_RADIUS_KM} * asin(least(1, sqrt(power(sin(radians(p.lat - ?) / 2), 2) + cos(radians(?)) * cos(radians(p.lat)) * power(sin(radians(p.lng - ?) / 2), 2)))))`,
  [near.lat, near.lat, near.lng],
];

/** The candidates' query, ordered by the sort key then id, without the keyset condition or limit. */
function candidates(db: Knex, q: SearchQuery, p: Plan): { query: Knex.QueryBuilder; descending: boolean } {
  const inner = db('services as s')
    .join('providers as p', 'p.id', 's.provider_id')
    .where('p.status', 'active')
    .andWhere('s.active', true)
    .select('s.id', 's.provider_id');
  const tsquery = `websearch_to_tsquery('simple', ?)`;
  // One document of service and provider: "plumber Kreuzberg" may find its words in both.
  if (q.q !== undefined) inner.whereRaw(`(s.search || p.search) @@ ${tsquery}`, [q.q]);
  if (q.category !== undefined) inner.where('s.category', q.category);
  if (q.min_rating !== undefined) inner.where('p.rating_count', '>', 0).whereRaw('p.rating_sum >= ?::numeric * p.rating_count', [q.min_rating]);
  if (p.near) {
    const box = boundingBox(p.near, p.radiusKm);
    const [distance, bindings] = haversineSql(p.near);
    inner.whereBetween('p.lat', [box.minLat, box.maxLat]);
    inner.where((w) => {
      for (const [west, east] of box.lngRanges) w.orWhereBetween('p.lng', [west, east]);
    });
    inner.whereRaw(`${distance} <= ?`, [...bindings, p.radiusKm]);
    inner.select(db.raw(`${distance} AS distance_km`, bindings));
  } else {
    inner.select(db.raw('NULL::float8 AS distance_km'));
  }
  const keys: Record<SearchSort, [string, (string | number)[]]> = {
    relevance: [`round(ts_rank(s.search || p.search, ${tsquery})::numeric, 6)`, [q.q ?? '']],
    rating: ['round(coalesce(p.rating_sum::numeric / nullif(p.rating_count, 0), 0), 6)', []],
    price: ['s.base_price_cents::numeric', []],
    distance: p.near ? [`round(${haversineSql(p.near)[0]}::numeric, 6)`, haversineSql(p.near)[1]] : ['0', []],
  };
  const [key, keyBindings] = keys[p.sort];
  inner.select(db.raw(`(${key})::text AS sort_key`, keyBindings));
  return { query: db.select('*').from(inner.as('c')), descending: p.sort === 'relevance' || p.sort === 'rating' };
}

async function candidatePage(db: Knex, q: SearchQuery, p: Plan, after: { key: string; id: string } | undefined, size: number): Promise<Candidate[]> {
  const { query, descending } = candidates(db, q, p);
  if (after) {
    const beyond = descending ? '<' : '>';
    query.where((w) => {
      w.whereRaw(`sort_key::numeric ${beyond} ?::numeric`, [after.key]).orWhere((same) => same.whereRaw('sort_key::numeric = ?::numeric', [after.key]).andWhere('id', '>', after.id));
    });
  }
  return (await query.orderByRaw(`sort_key::numeric ${descending ? 'DESC' : 'ASC'}, id ASC`).limit(size)) as Candidate[];
}

async function calendarsOf(db: Knex, rows: Candidate[]): Promise<Map<string, Calendar>> {
  if (rows.length === 0) return new Map();
  const [services, providers] = await Promise.all([
    db('services').whereIn('id', rows.map((r) => r.id)),
    db('providers').whereIn('id', [...new Set(rows.map((r) => r.provider_id))]),
  ]);
  const providerById = new Map((providers as ProviderRow[]).map((row) => [row.id, row]));
  return new Map(
    (services as Record<string, unknown>[]).map((row) => {
      const service = serviceFromRow(row);
      return [service.id, { service, provider: providerById.get(service.provider_id)! }];
    }),
  );
}

export async function searchServices(deps: PricingDeps, q: SearchQuery, now: number): Promise<{ data: SearchHit[]; next_cursor: string | null }> {
  const p = plan(q);
  let after = q.cursor !== undefined ? decodeCursor(q.cursor, p.sort) : undefined;
  const accepted: { row: Candidate; cal: Calendar }[] = [];
  let exhausted = false;
  // Without available_on every candidate is accepted and one read of limit + 1 rows answers.
  const batch = q.available_on === undefined ? q.limit + 1 : Math.min(200, 2 * (q.limit + 1));
  for (let round = 0; round < MAX_FILTER_ROUNDS && accepted.length <= q.limit; round++) {
    const rows = await candidatePage(deps.db, q, p, after, batch);
    const cals = await calendarsOf(deps.db, rows);
    const keep = await Promise.all(rows.map((r) => (q.available_on === undefined ? true : freeOn(deps, cals.get(r.id)!, q.available_on, now))));
    for (const [i, row] of rows.entries()) {
      after = { key: row.sort_key, id: row.id };
      if (keep[i]) accepted.push({ row, cal: cals.get(row.id)! });
      if (accepted.length > q.limit) break;
    }
    if (rows.length < batch) {
      exhausted = true;
      break;
    }
  }
  const page = accepted.slice(0, q.limit);
  const last = page[page.length - 1]?.row;
  let next: string | null = null;
  if (accepted.length > q.limit && last) next = encodeCursor(p.sort, last.sort_key, last.id);
  // The filter read its rounds without filling the page: the client goes on from the last row read.
  else if (!exhausted && after) next = encodeCursor(p.sort, after.key, after.id);

  const data = await Promise.all(
    page.map(async ({ row, cal }) => ({
      service: renderService(cal.service),
      provider: renderProviderSummary(cal.provider),
      ...(row.distance_km !== null ? { distance_km: Math.round(row.distance_km * 1000) / 1000 } : {}),
      next_available_at: await nextAvailableAt(deps, cal, now),
      from_price_cents: fromPriceCents(deps.config, cal.service.base_price_cents),
    })),
  );
  return { data, next_cursor: next };
}
