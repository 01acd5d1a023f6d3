import { z } from 'zod';
import { pageQuery, uuidParam, type Api } from '../http/api';
import type { AppDeps } from '../deps';
import { text } from '../http/text';
import { MAX_RADIUS_KM, SEARCH_SORTS, searchServices } from '../../bookings/search';
import { createQuote, listSlots, slotWindow } from '../../bookings/slotListing';
import { MAX_SLOT_WINDOW_DAYS } from '../../domain/slots';
import { ProviderSummarySchema, ServiceSchema } from './providerRoutes';

/**
 * Discovery (API.md, "Service bookings"): search, a service's free slots with their prices, and quotes that lock
 * one slot's price. The work is src/bookings/ (search.ts, slotListing.ts, pricing.ts, availabilityCache.ts).
 */

const described = (description: string) => ({ description });

const SearchQuery = z.object({
  q: text(1, 200).optional().openapi({ description: 'Words (web search syntax) in the service or its provider' }),
  category: text(1, 100).optional(),
  near: z.string().max(100).optional().openapi({ description: '"lat,lng"; results carry distance_km', example: '52.52,13.405' }),
  radius_km: z.coerce.number().min(1).max(MAX_RADIUS_KM).optional().openapi({ description: 'With near (default 50)' }),
  min_rating: z.coerce.number().min(1).max(5).optional(),
  available_on: z.string().max(10).optional().openapi({ description: "YYYY-MM-DD: a free slot that day (the provider's local date)" }),
  sort: z.enum(SEARCH_SORTS).optional().openapi({ description: 'Default relevance (rating without q); distance needs near' }),
  ...pageQuery,
});

const SearchHitSchema = z
  .object({
    service: ServiceSchema,
    provider: ProviderSummarySchema,
    distance_km: z.number().optional().openapi({ description: 'With near' }),
    next_available_at: z.iso.datetime().nullable().openapi({ description: 'The first free slot within 14 days, if any' }),
    from_price_cents: z.number().int().openapi({ description: 'The lowest price a slot can have (dynamic prices never go below it)' }),
  })
  .openapi('ServiceSearchHit');

const SlotsQuery = z.object({
  from: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Default now' }),
  to: z.iso.datetime({ offset: true }).optional().openapi({ description: `Default from + 7 days; at most ${MAX_SLOT_WINDOW_DAYS} days after from` }),
});

const SlotListSchema = z
  .object({
    time_zone: z.string().openapi({ description: "The provider's IANA zone the slots were computed in" }),
    slots: z.array(z.object({ start: z.iso.datetime(), end: z.iso.datetime(), price_cents: z.number().int() })),
  })
  .openapi('SlotList');

const QuoteBody = z.strictObject({ start: z.iso.datetime({ offset: true }) }).openapi('QuoteRequest');

const QuoteSchema = z
  .object({
    id: z.string().openapi({ description: 'The signed quote: cite it as quote_id when holding the slot' }),
    service_id: z.uuid(),
    start: z.iso.datetime(),
    end: z.iso.datetime(),
    price_cents: z.number().int(),
    currency: z.string(),
    breakdown: z.object({
      base_cents: z.number().int(),
      multipliers: z.object({ demand: z.number(), experience: z.number(), location: z.number() }),
      total_multiplier: z.number(),
    }),
    expires_at: z.iso.datetime(),
  })
  .openapi('Quote');

export function registerServiceRoutes(api: Api, deps: AppDeps): void {
  api.route(
    {
      method: 'get',
      path: '/v1/services/search',
      operationId: 'searchServices',
      summary: 'Search services of active providers: words, category, distance, rating, a free slot on a date',
      tags: ['bookings'],
      auth: 'public',
      query: SearchQuery,
      responses: { 200: { description: 'A page of services', schema: z.object({ data: z.array(SearchHitSchema), next_cursor: z.string().nullable() }) } },
    },
    async ({ query }) => ({ status: 200, body: await searchServices(deps, query, Date.now()) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/services/{id}/slots',
      operationId: 'listServiceSlots',
      summary: 'Free slots of a service with their prices, on a grid of duration + buffer from each opening',
      tags: ['bookings'],
      auth: 'public',
      params: uuidParam('id'),
      query: SlotsQuery,
      responses: { 200: { description: 'The free slots, in UTC', schema: SlotListSchema }, 404: described('No such service, or its provider is not active') },
    },
    async ({ params, query }) => {
      const now = Date.now();
      return { status: 200, body: await listSlots(deps, params.id, slotWindow(query, now), now) };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/services/{id}/quotes',
      operationId: 'quoteServiceSlot',
      summary: "Lock a free slot's price until expires_at (QUOTE_TTL) as a signed quote",
      tags: ['bookings'],
      auth: 'user',
      params: uuidParam('id'),
      body: QuoteBody,
      responses: {
        201: { description: 'The quote', schema: QuoteSchema },
        404: described('No such service, or its provider is not active'),
        409: described('`slot_unavailable`: that start is not a free slot now'),
      },
    },
    async ({ params, body }) => ({ status: 201, body: await createQuote(deps, params.id, body.start, Date.now()) }),
  );
}
