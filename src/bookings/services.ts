import { refusals } from '../domain/errors';
import { canManage, type Principal } from '../domain/roles';
import type { Db } from '../infra/db';
import { canSeeProvider, managedProvider, renderProviderSummary, visibleProvider, type ProviderSummary } from './providers';
import { loadProvider, loadService, serviceFromRow, type CancellationPolicy, type ProviderRow, type ServiceRow } from './rows';

/**
 * A provider's services: what is booked (duration, the buffer kept free after it, base price, and the
 * cancellation terms each booking freezes). A pending provider may prepare its services; they are seen by
 * others only once the provider is active.
 */

export interface NewService {
  title: string;
  description?: string;
  category: string;
  duration_minutes: number;
  buffer_minutes?: number;
  base_price_cents: number;
  currency: string;
  cancellation_policy?: { free_until_hours: number; late_fee_percent: number; no_show_fee_percent?: number };
}

export interface ServiceJson {
  id: string;
  provider_id: string;
  title: string;
  description: string;
  category: string;
  duration_minutes: number;
  buffer_minutes: number;
  base_price_cents: number;
  currency: string;
  cancellation_policy: CancellationPolicy;
  active: boolean;
  created_at: string;
}

export function renderService(row: ServiceRow): ServiceJson {
  return {
    id: row.id,
    provider_id: row.provider_id,
    title: row.title,
    description: row.description,
    category: row.category,
    duration_minutes: row.duration_minutes,
    buffer_minutes: row.buffer_minutes,
    base_price_cents: Number(row.base_price_cents),
    currency: row.currency,
    cancellation_policy: { free_until_hours: row.free_until_hours, late_fee_percent: row.late_fee_percent, no_show_fee_percent: row.no_show_fee_percent },
    active: row.active,
    created_at: new Date(row.created_at).toISOString(),
  };
}

export async function createService(db: Db, caller: Principal, providerId: string, body: NewService): Promise<ServiceJson> {
  const provider = await managedProvider(db, providerId, caller);
  if (provider.status === 'rejected' || provider.status === 'expired') {
    throw refusals.conflict('onboarding_closed', `The provider is ${provider.status}; it cannot offer services.`);
  }
  const policy = body.cancellation_policy;
  const [row] = (await db('services')
    .insert({
      provider_id: provider.id,
      title: body.title,
      description: body.description ?? '',
      category: body.category,
      duration_minutes: body.duration_minutes,
      buffer_minutes: body.buffer_minutes ?? 0,
      base_price_cents: body.base_price_cents,
      currency: body.currency,
      // Absent terms take the table's defaults (free until 24 h, 50 % late fee, 100 % no-show fee).
      ...(policy
        ? { free_until_hours: policy.free_until_hours, late_fee_percent: policy.late_fee_percent, ...(policy.no_show_fee_percent !== undefined ? { no_show_fee_percent: policy.no_show_fee_percent } : {}) }
        : {}),
    })
    .returning('*')) as Array<Record<string, unknown>>;
  return renderService(serviceFromRow(row!));
}

/** A service with its provider's summary; 404 unless its provider is active, or the caller owns it or operates. */
export async function getService(db: Db, id: string, viewer?: Principal): Promise<ServiceJson & { provider: ProviderSummary }> {
  const service = await loadService(db, id);
  const provider = service ? await loadProvider(db, service.provider_id) : undefined;
  const owns = provider !== undefined && viewer !== undefined && canManage(viewer, provider.user_id);
  if (!service || !provider || !canSeeProvider(provider, viewer) || (!service.active && !owns)) throw refusals.notFound('service');
  return { ...renderService(service), provider: renderProviderSummary(provider) };
}

/** A provider's services, oldest first; inactive ones only for its owner and operators. */
export async function listServices(db: Db, providerId: string, viewer?: Principal): Promise<ServiceJson[]> {
  return servicesOf(db, await visibleProvider(db, providerId, viewer), viewer);
}

/** The services of a provider the viewer may see (checked by the caller). */
export async function servicesOf(db: Db, provider: ProviderRow, viewer?: Principal): Promise<ServiceJson[]> {
  const owns = viewer !== undefined && canManage(viewer, provider.user_id);
  const rows = (await db('services')
    .where({ provider_id: provider.id })
    .modify((q) => (owns ? q : q.where({ active: true })))
    .orderBy([{ column: 'created_at' }, { column: 'id' }])) as Array<Record<string, unknown>>;
  return rows.map((r) => renderService(serviceFromRow(r)));
}
