import { ApplicationFailure, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { WithStartWorkflowOperation, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { Problem, problems } from '../http/problem';
import type { AppDeps } from '../deps';
import type { CheckoutRunner } from '../../commerce/checkouts';
import { TemporalTimeoutError } from '../../temporal/client';
import { CustomerId, StoreId } from '../../temporal/searchAttributes';
import {
  CHECKOUT_FAILED,
  CHECKOUT_WORKFLOW,
  type CheckoutInput,
  type CheckoutResult,
  type CheckoutWorkflow,
  checkoutAnswerUpdate,
  checkoutAnswerUpdateId,
  checkoutWorkflowId,
} from '../../commerce/contract';

/**
 * Starting, attaching to and reading checkout workflows (`checkout:<key>`) from HTTP: for POST /v1/checkout and
 * for a drop's claim, which sells through the same saga. A run is one Update-with-Start of the saga's `answer`
 * Update, answered as soon as the order is placed (the capture follows): USE_EXISTING, so a retry attaches to the
 * running checkout (the same Update id per cart, so the server gives it the first one's outcome), and
 * REJECT_DUPLICATE, so a finished one is never run again (its result is read instead).
 * Temporal timeouts surface as TemporalTimeoutError (the API's 503); anything else Temporal refuses is 503 too.
 * Each run carries its cart in its memo (and the Update's validator checks it), so an answer read back under a
 * key is only given for that cart.
 */
export function checkoutRuns(deps: Pick<AppDeps, 'config' | 'temporal'>): CheckoutRunner {
  const { config } = deps;
  const unavailable = () =>
    new Problem(503, 'workflow_unavailable', 'Service unavailable', 'The checkout could not be started right now; retry with the same Idempotency-Key. Retrying is safe.', {}, { 'Retry-After': '5' });
  const failed = () => new Problem(500, 'checkout_failed', 'Checkout failed', 'The checkout could not be completed; nothing was charged that is not refunded.');
  const otherCart = () =>
    problems.unprocessable('idempotency_key_reused', 'This Idempotency-Key was already used to check out another cart; use a new key for a new request.');

  async function result(checkoutKey: string): Promise<CheckoutResult> {
    try {
      return await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) => client.workflow.getHandle<CheckoutWorkflow>(checkoutWorkflowId(checkoutKey)).result());
    } catch (err) {
      if (err instanceof TemporalTimeoutError) throw err;
      if (err instanceof WorkflowFailedError) throw failed();
      throw unavailable();
    }
  }

  /** Starts the checkout (or attaches to it under its key) and waits for the shopper's answer. */
  async function answer(input: CheckoutInput, staticSummary: string): Promise<CheckoutResult> {
    const start = new WithStartWorkflowOperation<CheckoutWorkflow>(CHECKOUT_WORKFLOW, {
      workflowId: checkoutWorkflowId(input.checkoutKey),
      taskQueue: config.TASK_QUEUE,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [{ key: StoreId, value: input.storeId }, ...(input.customerId ? [{ key: CustomerId, value: input.customerId }] : [])],
      staticSummary,
      memo: { cartId: input.cartId },
    });
    return deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) =>
      client.workflow.executeUpdateWithStart(checkoutAnswerUpdate, {
        args: [{ cartId: input.cartId }],
        updateId: checkoutAnswerUpdateId(input.cartId),
        startWorkflowOperation: start,
      }),
    );
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
    /** Starts (or attaches to) the checkout and answers as soon as it knows the shopper's outcome. */
    async run(input: CheckoutInput, staticSummary: string): Promise<CheckoutResult> {
      try {
        return await answer(input, staticSummary);
      } catch (err) {
        if (err instanceof TemporalTimeoutError) throw err;
        if (err instanceof WorkflowUpdateFailedError) {
          // The saga failed unexpectedly (and compensated), or the validator refused: the key runs another cart.
          throw err.cause instanceof ApplicationFailure && err.cause.type === CHECKOUT_FAILED ? failed() : otherCart();
        }
        // Finished earlier under this key: its result is the answer, for its own cart only.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw unavailable();
        if ((await cartOf(input.checkoutKey)) !== input.cartId) throw otherCart();
        return result(input.checkoutKey);
      }
    },
  };
}
