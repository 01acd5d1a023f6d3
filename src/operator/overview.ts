import type { Knex } from 'knex';
import type { Config } from '../config';
import { attentionCounts, type AttentionKind } from './attention';

export interface OperatorOverview {
  temporal: { ui_url: string; namespace: string };
  pending_providers: number;
  attention: Record<AttentionKind, number>;
}

/** The Temporal Web UI operators open: TEMPORAL_UI_URL, or the dev server's UI on TEMPORAL_UI_PORT. */
export const temporalUiUrl = (config: Pick<Config, 'TEMPORAL_UI_URL' | 'TEMPORAL_UI_PORT'>): string =>
  (config.TEMPORAL_UI_URL ?? `http://localhost:${config.TEMPORAL_UI_PORT}`).replace(/\/+$/, '');

/** GET /v1/operator/overview: where the Temporal UI is, and how much waits for the operators. */
export async function operatorOverview(db: Knex, config: Pick<Config, 'TEMPORAL_UI_URL' | 'TEMPORAL_UI_PORT' | 'TEMPORAL_NAMESPACE' | 'RECONCILE_GRACE'>): Promise<OperatorOverview> {
  const [pending] = (await db('providers').where({ status: 'pending' }).count({ n: '*' })) as Array<{ n: string | number }>;
  return {
    temporal: { ui_url: temporalUiUrl(config), namespace: config.TEMPORAL_NAMESPACE },
    pending_providers: Number(pending!.n),
    attention: await attentionCounts(db, config.RECONCILE_GRACE / 1000),
  };
}
