import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { Problem } from '../http/problem';
import type { AppDeps } from '../deps';
import type { CheckoutRunner } from '../../commerce/checkouts';
import { TemporalTimeoutError } from '../../temporal/client';
import { CustomerId, StoreId } from '../../temporal/searchAttributes';
import { CHECKOUT_WORKFLOW, type CheckoutInput, type CheckoutResult, type CheckoutWorkflow, checkoutWorkflowId } from '../../commerce/contract';

/**
 * Starting, attaching to and reading checkout workflows (`checkout:<key>`) from HTTP: for POST /v1/checkout and
 * for a drop's claim, which sells through the same saga. Start uses USE_EXISTING, so a double click attaches to
 * the running checkout, and REJECT_DUPLICATE, so a finished one is never run again (its result is read instead).
 * Temporal timeouts surface as TemporalTimeoutError (the API's 503); anything else Temporal refuses is 503 too.
 * Each run carries its cart in its memo, so an answer read back under a key is only given for that cart.
 */
export function checkoutRuns(deps: Pick<AppDeps, 'config' | 'temporal'>): CheckoutRunner {
  const { config } = deps;
  const unavailable = () =>
    new Problem(503, 'workflow_unavailable', 'Service unavailable', 'The checkout could not be started right now; retry with the same Idempotency-Key. Retrying is safe.', {}, { 'Retry-After': '5' });

  async function start(input: CheckoutInput, staticSummary: string): Promise<void> {
    try {
      await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) =>
        client.workflow.start<CheckoutWorkflow>(CHECKOUT_WORKFLOW, {
          workflowId: checkoutWorkflowId(input.checkoutKey),
          taskQueue: config.TASK_QUEUE,
          args: [input],
          workflowIdConflictPolicy: 'USE_EXISTING',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          typedSearchAttributes: [{ key: StoreId, value: input.storeId }, ...(input.customerId ? [{ key: CustomerId, value: input.customerId }] : [])],
          staticSummary,
          memo: { cartId: input.cartId },
        }),
      );
    } catch (err) {
      if (err instanceof TemporalTimeoutError) throw err;
      // Finished earlier under this key: its result is the answer.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw unavailable();
    }
  }

  async function result(checkoutKey: string): Promise<CheckoutResult> {
    try {
      return await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) => client.workflow.getHandle<CheckoutWorkflow>(checkoutWorkflowId(checkoutKey)).result());
    } catch (err) {
      if (err instanceof TemporalTimeoutError) throw err;
      if (err instanceof WorkflowFailedError) {
        throw new Problem(500, 'checkout_failed', 'Checkout failed', 'The checkout could not be completed; nothing was charged that is not refunded.');
      }
      throw unavailable();
    }
  }

  /** The cart the checkout under this key was started for; null when there is none (or it does not say). */
  async function cartOf(checkoutKey: string): Promise<string | null> {
    try {
      const run = await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) => client.workflow.getHandle(checkoutWorkflowId(checkoutKey)).describe());
      const cartId = run.memo?.cartId;
      return typeof cartId === 'string' ? cartId : null;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      if (err instanceof TemporalTimeoutError) throw err;
      throw unavailable();
    }
  }

  return {
    result,
    cartOf,
    /** Starts (or attaches to) the checkout and waits for its outcome. */
    async run(input: CheckoutInput, staticSummary: string): Promise<CheckoutResult> {
      await start(input, staticSummary);
      return result(input.checkoutKey);
    },
  };
}
