import { randomBytes } from 'node:crypto';
import { refusals } from '../domain/errors';
import { canManage, type Principal } from '../domain/roles';
import { seedCommitment } from '../domain/draw';
import { findStore } from '../commerce/catalog';
import { checkDropLimits } from '../billing/planLimits';
import { DropId, Status, StoreId } from '../temporal/searchAttributes';
import { DROP_WORKFLOW, type DropMode, type DropWorkflow, dropWorkflowId } from './contract';
import type { DropsDeps } from './deps';
import { dropJson, dropWorkflowInput, loadDrop } from './repository';

/**
 * Scheduling a drop (by the store's owner): its row, with a fresh secret seed whose sha256 is published at
 * once, and its `drop:<id>` workflow, the owner of every timer the drop has.
 */

export interface NewDrop {
  variant_id: string;
  quantity: number;
  mode: DropMode;
  opens_at: string;
  closes_at?: string;
  claim_window_seconds?: number;
  price_cents?: number;
  admission_per_second?: number;
}

/** The drop as scheduled; not_found for a store the caller does not manage or a variant not in it. */
export async function createDrop(deps: DropsDeps, caller: Principal, storeId: string, body: NewDrop) {
  const { db, config, logger } = deps;
  const store = await findStore(db, storeId);
  if (!store || !canManage(caller, store.owner_id)) throw refusals.notFound('store');
  const variant = (await db('variants as v')
    .join('products as p', 'p.id', 'v.product_id')
    .where({ 'v.id': body.variant_id, 'v.store_id': store.id })
    .first(db.raw('p.base_price_cents + v.price_modifier_cents as price_cents'))) as { price_cents: string | number } | undefined;
  if (!variant) throw refusals.notFound('variant');
  const seed = randomBytes(32).toString('hex');
  const row = await db.transaction(async (trx) => {
    await checkDropLimits(trx, config, store.id);
    const [inserted] = (await trx('drops')
      .insert({
        store_id: store.id,
        variant_id: body.variant_id,
        created_by: caller.id,
        mode: body.mode,
        quantity: body.quantity,
        price_cents: body.price_cents ?? Number(variant.price_cents),
        currency: store.currency,
        opens_at: new Date(body.opens_at),
        closes_at: body.closes_at ? new Date(body.closes_at) : null,
        ...(body.claim_window_seconds ? { claim_window_seconds: body.claim_window_seconds } : {}),
        ...(body.admission_per_second ? { admission_per_second: body.admission_per_second } : {}),
        seed,
        seed_commitment: seedCommitment(seed),
      })
      .returning('id')) as Array<{ id: string }>;
    const d = (await loadDrop(trx, inserted!.id))!;
    // Started inside the transaction: a failed start creates nothing; a commit that fails after the start
    // leaves a workflow that finds no drop row and ends once that is past its grace (DropNotFound).
    try {
      await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) =>
        client.workflow.start<DropWorkflow>(DROP_WORKFLOW, {
          workflowId: dropWorkflowId(d.id),
          taskQueue: config.TASK_QUEUE,
          args: [dropWorkflowInput(d)],
          workflowIdConflictPolicy: 'FAIL',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          typedSearchAttributes: [
            { key: DropId, value: d.id },
            { key: StoreId, value: d.store_id },
            { key: Status, value: d.status },
          ],
          staticSummary: `${d.mode === 'lottery' ? 'Lottery' : 'First-come'} drop of ${d.quantity} × variant ${d.variant_id} at store ${store.slug}`,
          staticDetails: `opens ${d.opens_at.toISOString()}${d.closes_at ? `, closes ${d.closes_at.toISOString()}` : ''}; price ${d.price_cents} ${d.currency}`,
        }),
      );
    } catch (err) {
      logger.error({ err, dropId: d.id }, 'could not start the drop workflow');
      throw refusals.unavailable('workflow_unavailable', 'The workflow could not be reached right now; retry with the same Idempotency-Key. Retrying is safe.', 5);
    }
    return d;
  });
  return dropJson(row, row.mode === 'lottery' ? 0 : undefined);
}
