import { refusals } from '../domain/errors';
import { canManage, type Principal } from '../domain/roles';
import { isValidTimeZone } from '../domain/slots';
import type { Db } from '../infra/db';
import { ProviderId, Status } from '../temporal/searchAttributes';
import type { BookingsDeps } from './deps';
import { PROVIDER_ONBOARDING_WORKFLOW, providerWorkflowId, type ProviderOnboardingWorkflow } from './contract';
import { loadProvider, loadProviderOfUser, type ProviderRow } from './rows';

/**
 * Providers (issue 12): onboarding (one provider per account, its row and its `provider:<id>` workflow made
 * together), and how a provider is shown. Pending, rejected and expired providers are the owner's and the
 * operators' only: anyone else gets the 404 an unknown id gets.
 */

export interface NewProvider {
  display_name: string;
  bio?: string;
  categories: string[];
  time_zone: string;
  location: { lat: number; lng: number; city: string; country: string };
  service_radius_km?: number;
}

export interface ProviderLocation {
  lat: number;
  lng: number;
  city: string;
  country: string;
}

/** What a search result or a booking shows of its provider. */
export interface ProviderSummary {
  id: string;
  display_name: string;
  status: ProviderRow['status'];
  rating_average: number | null;
  rating_count: number;
  categories: string[];
  location: ProviderLocation;
  time_zone: string;
}

export interface ProviderJson extends ProviderSummary {
  bio: string;
  service_radius_km: number | null;
  approved_at: string | null;
  created_at: string;
  /** Owner and operators only. */
  payout_status?: ProviderRow['payout_status'];
  rejection_reason?: string | null;
}

/** The mean rating to two decimals (integers in the row: a sum and a count), or null before the first review. */
export const ratingAverage = (row: Pick<ProviderRow, 'rating_sum' | 'rating_count'>): number | null =>
  row.rating_count > 0 ? Math.round((Number(row.rating_sum) * 100) / row.rating_count) / 100 : null;

export function renderProviderSummary(row: ProviderRow): ProviderSummary {
  return {
    id: row.id,
    display_name: row.display_name,
    status: row.status,
    rating_average: ratingAverage(row),
    rating_count: row.rating_count,
    categories: row.categories,
    location: { lat: row.lat, lng: row.lng, city: row.city, country: row.country },
    time_zone: row.time_zone,
  };
}

/** The provider as its page shows it; the payout state and a rejection's reason only to its owner and operators. */
export function renderProvider(row: ProviderRow, viewer?: Principal): ProviderJson {
  return {
    ...renderProviderSummary(row),
    bio: row.bio,
    service_radius_km: row.service_radius_km,
    approved_at: row.approved_at ? row.approved_at.toISOString() : null,
    created_at: row.created_at.toISOString(),
    ...(viewer && canManage(viewer, row.user_id) ? { payout_status: row.payout_status, rejection_reason: row.rejection_reason } : {}),
  };
}

/** Active providers are public; any other status is visible to its owner and operators only (404 otherwise). */
export function canSeeProvider(row: ProviderRow, viewer?: Principal): boolean {
  return row.status === 'active' || (viewer !== undefined && canManage(viewer, row.user_id));
}

export async function visibleProvider(db: Db, id: string, viewer?: Principal): Promise<ProviderRow> {
  const row = await loadProvider(db, id);
  if (!row || !canSeeProvider(row, viewer)) throw refusals.notFound('provider');
  return row;
}

/** The provider the caller owns (or any, for an operator); 404 for another account's. */
export async function managedProvider(db: Db, id: string, caller: Principal): Promise<ProviderRow> {
  const row = await loadProvider(db, id);
  if (!row || !canManage(caller, row.user_id)) throw refusals.notFound('provider');
  return row;
}

export async function myProvider(db: Db, caller: Principal): Promise<ProviderJson> {
  const row = await loadProviderOfUser(db, caller.id);
  if (!row) throw refusals.notFound('provider');
  return renderProvider(row, caller);
}

const isUniqueViolation = (err: unknown, constraint: string) => {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23505' && e.constraint === constraint;
};

/**
 * pending, with the `provider:<id>` workflow that waits for the operator's decision and the payout details.
 * One per account: the UNIQUE user_id makes a concurrent second onboarding wait for the first's commit and
 * fail (409), so it never starts a workflow of its own.
 */
export async function onboardProvider(deps: BookingsDeps, caller: Principal, body: NewProvider): Promise<ProviderJson> {
  const { db, config, logger } = deps;
  if (!isValidTimeZone(body.time_zone)) throw refusals.invalid([{ path: 'body.time_zone', message: `'${body.time_zone}' is not an IANA time zone` }]);
  const alreadyOnboarded = () => refusals.conflict('already_onboarded', 'This account already has a provider profile (GET /v1/me/provider).');
  if (await loadProviderOfUser(db, caller.id)) throw alreadyOnboarded();
  const row = await db
    .transaction(async (trx) => {
      const [inserted] = (await trx('providers')
        .insert({
          user_id: caller.id,
          display_name: body.display_name,
          bio: body.bio ?? '',
          categories: body.categories,
          time_zone: body.time_zone,
          lat: body.location.lat,
          lng: body.location.lng,
          city: body.location.city,
          country: body.location.country,
          service_radius_km: body.service_radius_km ?? null,
        })
        .returning('id')) as Array<{ id: string }>;
      const p = (await loadProvider(trx, inserted!.id))!;
      // Started inside the transaction: a failed start creates nothing; a commit that fails after the start
      // leaves a workflow that finds no row and ends once that is past its grace (ProviderNotFound).
      try {
        await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) =>
          client.workflow.start<ProviderOnboardingWorkflow>(PROVIDER_ONBOARDING_WORKFLOW, {
            workflowId: providerWorkflowId(p.id),
            taskQueue: config.TASK_QUEUE,
            args: [{ providerId: p.id, userId: p.user_id, displayName: p.display_name, reminderMs: config.PROVIDER_ONBOARDING_REMINDER, expiryMs: config.PROVIDER_ONBOARDING_EXPIRY }],
            workflowIdConflictPolicy: 'FAIL',
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
            typedSearchAttributes: [
              { key: ProviderId, value: p.id },
              { key: Status, value: p.status },
            ],
            staticSummary: `Provider onboarding: ${p.display_name} (${p.city}, ${p.country})`,
            staticDetails: `categories ${p.categories.join(', ')}; time zone ${p.time_zone}; account ${p.user_id}`,
          }),
        );
      } catch (err) {
        logger.error({ err, providerId: p.id }, 'could not start the provider onboarding workflow');
        throw refusals.dependencyDown('temporal', 'The workflow service could not be reached; nothing was created. Retry shortly.');
      }
      return p;
    })
    .catch((err: unknown) => {
      if (isUniqueViolation(err, 'providers_user_id_key')) throw alreadyOnboarded();
      throw err;
    });
  return renderProvider(row, caller);
}
