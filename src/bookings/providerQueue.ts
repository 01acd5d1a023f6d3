import type { Knex } from 'knex';
import { newestFirstPage } from '../campaigns/keysetCursor';
import { providerWorkflowId, type ProviderStatus } from './contract';

/** A provider as the operators' approval queue shows it: who, where, what, and its onboarding workflow. */
export interface ProviderQueueItem {
  id: string;
  display_name: string;
  categories: string[];
  city: string;
  country: string;
  status: ProviderStatus;
  owner: { id: string; name: string; email: string };
  workflow_id: string;
  created_at: string;
}

interface Row {
  id: string;
  display_name: string;
  categories: string[];
  city: string;
  country: string;
  status: ProviderStatus;
  user_id: string;
  owner_name: string;
  owner_email: string;
  created_at: Date;
}

/** GET /v1/operator/providers: providers in one status (pending: awaiting a decision), newest first. */
export async function providersByStatus(db: Knex, query: { status: ProviderStatus; limit: number; cursor?: string }): Promise<{ data: ProviderQueueItem[]; next_cursor: string | null }> {
  const q = db('providers as p')
    .join('users as u', 'u.id', 'p.user_id')
    .where('p.status', query.status)
    .select('p.id', 'p.display_name', 'p.categories', 'p.city', 'p.country', 'p.status', 'p.user_id', 'u.name as owner_name', 'u.email as owner_email', 'p.created_at');
  const page = await newestFirstPage<Row>(db, q, { time: 'p.created_at', id: 'p.id' }, query);
  return {
    data: page.rows.map((r) => ({
      id: r.id,
      display_name: r.display_name,
      categories: r.categories,
      city: r.city,
      country: r.country,
      status: r.status,
      owner: { id: r.user_id, name: r.owner_name, email: r.owner_email },
      workflow_id: providerWorkflowId(r.id),
      created_at: r.created_at.toISOString(),
    })),
    next_cursor: page.nextCursor,
  };
}
