import { z } from 'zod';
import { uuidParam, type Api } from '../http/api';
import type { AppDeps } from '../deps';
import { requirePrincipal } from '../../accounts/authorization';
import { isValidTimeZone } from '../../domain/slots';
import { getAvailability, setAvailability } from '../../bookings/providerAvailability';
import { decideProvider } from '../../bookings/providerDecisions';
import { setUpPayoutAccount } from '../../bookings/providerPayouts';
import { myProvider, onboardProvider, renderProvider, visibleProvider } from '../../bookings/providers';
import { createService, getService, listServices, servicesOf } from '../../bookings/services';

/**
 * Providers (API.md, "Service bookings"): onboarding (starts `provider:<id>`), the operators' approval or
 * rejection (Updates of that workflow), payout details (a connected account through the PaymentGateway port),
 * opening hours and services. The work is src/bookings/ (providers.ts, providerDecisions.ts,
 * providerPayouts.ts, providerAvailability.ts, services.ts). Pending, rejected and expired providers and their
 * services are 404 to everyone but their owner and operators.
 */

const HHMM = z.string().regex(/^\d{2}:\d{2}$/, 'must be "HH:MM"');

const Location = z
  .strictObject({
    lat: z.number().min(-90).max(90),
    lng: z.number().min(-180).max(180),
    city: z.string().trim().min(1).max(200),
    country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code, upper case').openapi({ example: 'DE' }),
  })
  .openapi('ProviderLocation');

const OnboardBody = z
  .strictObject({
    display_name: z.string().trim().min(1).max(200),
    bio: z.string().max(5000).optional(),
    categories: z.array(z.string().trim().min(1).max(100)).min(1).max(20),
    time_zone: z.string().max(100).refine(isValidTimeZone, 'must be an IANA time zone such as Europe/Berlin').openapi({ example: 'Europe/Berlin' }),
    location: Location,
    service_radius_km: z.number().int().min(1).max(20_000).optional(),
  })
  .openapi('OnboardProviderRequest');

const RejectBody = z.strictObject({ reason: z.string().trim().min(1).max(2000).optional() }).openapi('RejectProviderRequest');

const WeeklyHours = z.strictObject({
  weekday: z.number().int().min(0).max(6).openapi({ description: '0 = Sunday' }),
  start: HHMM.openapi({ example: '09:00' }),
  end: HHMM.openapi({ example: '17:00', description: '"24:00" allowed' }),
});
const DateException = z.union([
  z.strictObject({ date: z.iso.date(), closed: z.literal(true) }),
  z.strictObject({ date: z.iso.date(), start: HHMM, end: HHMM }),
]);
const AvailabilityBody = z
  .strictObject({ weekly: z.array(WeeklyHours).max(200), exceptions: z.array(DateException).max(2000).optional() })
  .openapi('ProviderAvailabilityRequest');
const AvailabilitySchema = z
  .object({ time_zone: z.string(), weekly: z.array(WeeklyHours), exceptions: z.array(DateException) })
  .openapi('ProviderAvailability', { description: "Opening hours in the provider's local time" });

const Policy = z.strictObject({
  free_until_hours: z.number().int().min(0).max(8760).openapi({ description: 'Free cancellation until this many hours before the start' }),
  late_fee_percent: z.number().int().min(0).max(100),
  no_show_fee_percent: z.number().int().min(0).max(100).optional().openapi({ description: 'Default 100' }),
});
const ServiceBody = z
  .strictObject({
    title: z.string().trim().min(1).max(200),
    description: z.string().max(5000).optional(),
    category: z.string().trim().min(1).max(100),
    duration_minutes: z.number().int().min(5).max(1440),
    buffer_minutes: z.number().int().min(0).max(720).optional().openapi({ description: 'Kept free after each booking (default 0)' }),
    base_price_cents: z.number().int().min(1).max(100_000_000),
    currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code, upper case').openapi({ example: 'EUR' }),
    cancellation_policy: Policy.optional().openapi({ description: 'Default: free until 24 h, 50 % late fee, 100 % no-show fee' }),
  })
  .openapi('CreateServiceRequest');

const PROVIDER_STATUSES = ['pending', 'active', 'rejected', 'expired'] as const;

export const ProviderSummarySchema = z
  .object({
    id: z.uuid(),
    display_name: z.string(),
    status: z.enum(PROVIDER_STATUSES),
    rating_average: z.number().nullable().openapi({ description: 'Mean rating, two decimals; null before the first review' }),
    rating_count: z.number().int(),
    categories: z.array(z.string()),
    location: z.object({ lat: z.number(), lng: z.number(), city: z.string(), country: z.string() }),
    time_zone: z.string(),
  })
  .openapi('ProviderSummary');

export const ServiceSchema = z
  .object({
    id: z.uuid(),
    provider_id: z.uuid(),
    title: z.string(),
    description: z.string(),
    category: z.string(),
    duration_minutes: z.number().int(),
    buffer_minutes: z.number().int(),
    base_price_cents: z.number().int(),
    currency: z.string(),
    cancellation_policy: z.object({ free_until_hours: z.number().int(), late_fee_percent: z.number().int(), no_show_fee_percent: z.number().int() }),
    active: z.boolean(),
    created_at: z.iso.datetime(),
  })
  .openapi('Service');

const ProviderSchema = ProviderSummarySchema.extend({
  bio: z.string(),
  service_radius_km: z.number().int().nullable(),
  approved_at: z.iso.datetime().nullable(),
  created_at: z.iso.datetime(),
  payout_status: z.enum(['missing', 'pending', 'ready']).optional().openapi({ description: 'Owner and operators only' }),
  rejection_reason: z.string().nullable().optional().openapi({ description: 'Owner and operators only' }),
  services: z.array(ServiceSchema).optional(),
}).openapi('Provider');

const ServiceWithProviderSchema = ServiceSchema.extend({ provider: ProviderSummarySchema }).openapi('ServiceWithProvider');

const PayoutAccountSchema = z
  .object({
    account_id: z.string(),
    status: z.enum(['pending', 'ready']),
    onboarding_url: z.url().optional().openapi({ description: "While pending: the payment provider's hosted onboarding page (short-lived; POST again for a fresh one)" }),
  })
  .openapi('PayoutAccount');

const described = (description: string) => ({ description });
const hidden = described('No such provider, or one you may not see (pending, rejected and expired providers are their owner\'s and operators\' only)');

export function registerProviderRoutes(api: Api, deps: AppDeps): void {
  const { db } = deps;

  api.route(
    {
      method: 'post',
      path: '/v1/providers/onboard',
      operationId: 'onboardProvider',
      summary: 'Start onboarding as a provider (one per account): pending until an operator approves',
      tags: ['providers'],
      auth: ['provider'],
      body: OnboardBody,
      responses: {
        201: { description: 'The provider, pending', schema: ProviderSchema },
        400: described('`validation_failed` (e.g. an unknown time zone, a latitude out of range)'),
        409: described('`already_onboarded`'),
        503: described('`dependency_unavailable`: nothing was created; retry'),
      },
    },
    async ({ body, principal }) => ({ status: 201, body: await onboardProvider(deps, requirePrincipal(principal), body) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/me/provider',
      operationId: 'getMyProvider',
      summary: 'Your own provider profile, in whatever status',
      tags: ['providers'],
      auth: 'user',
      responses: { 200: { description: 'Your provider', schema: ProviderSchema }, 404: described('You have not onboarded') },
    },
    async ({ principal }) => ({ status: 200, body: await myProvider(db, requirePrincipal(principal)) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/providers/{id}',
      operationId: 'getProvider',
      summary: 'A provider with its services',
      tags: ['providers'],
      auth: 'optional',
      params: uuidParam('id'),
      responses: { 200: { description: 'The provider', schema: ProviderSchema }, 404: hidden },
    },
    async ({ params, principal }) => {
      const row = await visibleProvider(db, params.id, principal);
      return { status: 200, body: { ...renderProvider(row, principal), services: await servicesOf(db, row, principal) } };
    },
  );

  for (const decision of ['approve', 'reject'] as const) {
    api.route(
      {
        method: 'post',
        path: `/v1/operator/providers/{id}/${decision}`,
        operationId: decision === 'approve' ? 'approveProvider' : 'rejectProvider',
        summary:
          decision === 'approve'
            ? 'Approve a pending provider (operators): active at once, searchable and bookable'
            : 'Reject a pending provider (operators), with an optional reason the provider is told',
        tags: ['providers', 'operations'],
        auth: ['operator'],
        params: uuidParam('id'),
        ...(decision === 'reject' ? { body: RejectBody } : {}),
        responses: {
          200: { description: `The provider, ${decision === 'approve' ? 'active' : 'rejected'}`, schema: ProviderSchema },
          404: described('No such provider'),
          409: described('`provider_not_pending`: already decided or expired'),
          503: described('`dependency_unavailable`: the onboarding workflow could not be reached; nothing was changed'),
        },
      },
      async ({ params, body, principal }) => ({
        status: 200,
        body: await decideProvider(
          deps,
          requirePrincipal(principal),
          params.id,
          decision === 'approve' ? { approve: true } : { approve: false, reason: (body as z.infer<typeof RejectBody>).reason },
        ),
      }),
    );
  }

  api.route(
    {
      method: 'post',
      path: '/v1/providers/{id}/payout-account',
      operationId: 'setUpProviderPayoutAccount',
      summary: "Create (or look again at) the provider's payout account: ready, or pending with the hosted onboarding url",
      tags: ['providers'],
      auth: ['provider'],
      params: uuidParam('id'),
      responses: {
        201: { description: 'The payout account', schema: PayoutAccountSchema },
        404: described('No such provider of yours'),
        409: described('`onboarding_closed`: the provider was rejected or expired'),
        422: described('`payout_account_refused`: the payment provider refused the account (e.g. an unsupported country)'),
        503: described('`payment_unavailable`: the payment provider could not be reached; retry'),
      },
    },
    async ({ params, principal }) => ({ status: 201, body: await setUpPayoutAccount(deps, requirePrincipal(principal), params.id) }),
  );

  api.route(
    {
      method: 'put',
      path: '/v1/providers/{id}/availability',
      operationId: 'setProviderAvailability',
      summary: "Replace the provider's weekly hours and date exceptions (the provider's local time)",
      tags: ['providers'],
      auth: ['provider'],
      params: uuidParam('id'),
      body: AvailabilityBody,
      responses: {
        200: { description: 'The opening hours now', schema: AvailabilitySchema },
        400: described('`validation_failed`: a malformed time, end not after start, overlapping ranges, an invalid date'),
        404: described('No such provider of yours'),
      },
    },
    async ({ params, body, principal }) => ({ status: 200, body: await setAvailability(deps, requirePrincipal(principal), params.id, body) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/providers/{id}/availability',
      operationId: 'getProviderAvailability',
      summary: "The provider's weekly hours and date exceptions, with its time zone",
      tags: ['providers'],
      auth: 'optional',
      params: uuidParam('id'),
      responses: { 200: { description: 'The opening hours', schema: AvailabilitySchema }, 404: hidden },
    },
    async ({ params, principal }) => ({ status: 200, body: await getAvailability(db, params.id, principal) }),
  );

  api.route(
    {
      method: 'post',
      path: '/v1/providers/{id}/services',
      operationId: 'createService',
      summary: 'Offer a service (the provider may still be pending)',
      tags: ['providers'],
      auth: ['provider'],
      params: uuidParam('id'),
      body: ServiceBody,
      responses: {
        201: { description: 'The service', schema: ServiceSchema },
        400: described('`validation_failed`'),
        404: described('No such provider of yours'),
        409: described('`onboarding_closed`: the provider was rejected or expired'),
      },
    },
    async ({ params, body, principal }) => ({ status: 201, body: await createService(db, requirePrincipal(principal), params.id, body) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/providers/{id}/services',
      operationId: 'listProviderServices',
      summary: "A provider's services, oldest first",
      tags: ['providers'],
      auth: 'optional',
      params: uuidParam('id'),
      responses: { 200: { description: 'The services', schema: z.array(ServiceSchema) }, 404: hidden },
    },
    async ({ params, principal }) => ({ status: 200, body: await listServices(db, params.id, principal) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/services/{id}',
      operationId: 'getService',
      summary: "A service with its provider's summary",
      tags: ['providers'],
      auth: 'optional',
      params: uuidParam('id'),
      responses: { 200: { description: 'The service', schema: ServiceWithProviderSchema }, 404: described('No such service, or its provider is not active') },
    },
    async ({ params, principal }) => ({ status: 200, body: await getService(db, params.id, principal) }),
  );
}
