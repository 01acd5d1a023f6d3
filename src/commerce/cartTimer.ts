import type { Config } from '../config';
import type { TemporalClientProvider } from '../temporal/client';
import { CustomerId, StoreId } from '../temporal/searchAttributes';
import type { CartDoc } from './cartDocuments';
import { CART_RESERVATIONS_WORKFLOW, cartActivitySignal, type CartReservationsInput, type CartReservationsWorkflow, cartWorkflowId } from './contract';

/**
 * Starts a cart's reservation workflow (`cart:<id>`), or restarts its countdown. Every change to a cart's holds
 * calls this BEFORE taking stock, so a hold never exists without the timer that will release it.
 * Throws TemporalTimeoutError when Temporal does not answer within TEMPORAL_UPDATE_TIMEOUT, and the client's
 * own error when it refuses; callers decide how to report either.
 */
export async function touchCartWorkflow(
  deps: { config: Pick<Config, 'TASK_QUEUE' | 'RESERVATION_TTL' | 'TEMPORAL_UPDATE_TIMEOUT'>; temporal: TemporalClientProvider },
  doc: CartDoc,
  items: Array<{ variant_id: string; quantity: number }>,
): Promise<void> {
  const { config } = deps;
  const input: CartReservationsInput = {
    cartId: doc.id,
    storeId: doc.store_id,
    storeSlug: doc.store_slug,
    customerId: doc.owner_id,
    ttlMs: config.RESERVATION_TTL,
  };
  await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) =>
    client.workflow.signalWithStart<CartReservationsWorkflow, [{ items: typeof items }]>(CART_RESERVATIONS_WORKFLOW, {
      workflowId: cartWorkflowId(doc.id),
      taskQueue: config.TASK_QUEUE,
      args: [input],
      signal: cartActivitySignal,
      signalArgs: [{ items }],
      typedSearchAttributes: [{ key: StoreId, value: doc.store_id }, ...(doc.owner_id ? [{ key: CustomerId, value: doc.owner_id }] : [])],
      staticSummary: `Cart ${doc.id} at store ${doc.store_slug}${doc.drop_id ? ` (drop ${doc.drop_id})` : ''}`,
    }),
  );
}
