import { RECONCILE_BILLING_WORKFLOW, type BillingCheck, type BillingCheckStep, type BillingDifference, type ReconcileBillingResult } from '../../../src/billing/contract';
import type { reconcileBilling } from '../../../src/workflows/billing/reconcileBilling';
import { type ActivityInput, historyEventTypes, startWorkflowEnv, uniqueId, type WorkflowTestEnv } from '../../helpers/workflowEnv';

/**
 * The `billing-reconcile` schedule's workflow with its activities mocked: every check paged to its end in order,
 * the counts added up (and carried over continue-as-new), the operators told once and only when something differs.
 */

const runId = (id: string) => `billing-reconcile-test:${id}`;
const difference = (n: number): BillingDifference => ({ kind: 'sale_entry', ids: { charge_id: `c${n}` }, expected: 100, actual: 101 });

/** `pages` steps of `check`, cursors p1..pN, each checking 500 rows; the `faulty` pages report one sale_entry each. */
function pagedChecks(pages: Partial<Record<BillingCheck, number>>, faulty: Set<string> = new Set()) {
  return jest.fn(async (input: ActivityInput<'checkBillingPages'>): Promise<BillingCheckStep> => {
    const total = pages[input.check] ?? 1;
    const at = input.after === null ? 1 : Number(input.after.slice(1)) + 1;
    const key = `${input.check}:${at}`;
    return {
      check: input.check,
      checked: 500,
      byKind: faulty.has(key) ? { sale_entry: 1 } : {},
      sample: faulty.has(key) ? [difference(at)] : [],
      next: at < total ? `p${at}` : null,
    };
  });
}

describe('reconcileBilling workflow (mocked activities)', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowEnv({ main: ['checkBillingPages', 'notifyBillingDifferences'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('pages every check to its end in order, adds the counts up, and tells nobody when nothing differs', async () => {
    const workflowId = uniqueId(runId);
    const checkBillingPages = pagedChecks({ charges: 3, fee_invoices: 1, payouts: 2, invoice_numbers: 1 });
    const notifyBillingDifferences = jest.fn(async () => 1);
    const handle = await t.start<typeof reconcileBilling>(RECONCILE_BILLING_WORKFLOW, { workflowId, args: [{ scope: { sellerUserIds: ['s1'] } }], mocks: { checkBillingPages, notifyBillingDifferences } });

    await expect(handle.result()).resolves.toEqual({ checked: { charges: 1500, fee_invoices: 500, payouts: 1000, invoice_numbers: 500 }, differences: 0, byKind: {}, sample: [] });
    expect(t.calls(workflowId).map((c) => c.input)).toEqual([
      { check: 'charges', after: null, scope: { sellerUserIds: ['s1'] } },
      { check: 'charges', after: 'p1', scope: { sellerUserIds: ['s1'] } },
      { check: 'charges', after: 'p2', scope: { sellerUserIds: ['s1'] } },
      { check: 'fee_invoices', after: null, scope: { sellerUserIds: ['s1'] } },
      { check: 'payouts', after: null, scope: { sellerUserIds: ['s1'] } },
      { check: 'payouts', after: 'p1', scope: { sellerUserIds: ['s1'] } },
      { check: 'invoice_numbers', after: null, scope: { sellerUserIds: ['s1'] } },
    ]);
    expect(notifyBillingDifferences).not.toHaveBeenCalled();
    // Bounded steps: each heartbeats, within a timeout the server enforces.
    expect(t.call(workflowId, 'checkBillingPages').startToCloseTimeoutMs).toBe(600_000);
    // Operators see the counts while it runs and when it is done (the Web UI's current details).
    const metadata = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
    expect(metadata.currentDetails).toBe("Done: 1500 charges, 500 sellers' fee invoices, 1000 payouts, 500 invoice number series checked; no difference");
  });

  it('continues as new on a long run, carrying cursor and counts; the operators are told once, under the first run', async () => {
    const workflowId = uniqueId(runId);
    // 40 pages of charges: more history than the test server's continue-as-new suggestion allows in one run.
    const checkBillingPages = pagedChecks({ charges: 40 }, new Set(['charges:2', 'charges:33', 'payouts:1']));
    const told: Array<{ runKey: string; result: ReconcileBillingResult }> = [];
    const notifyBillingDifferences = jest.fn(async (input: ActivityInput<'notifyBillingDifferences'>) => {
      told.push(input);
      return 1;
    });
    const handle = await t.start<typeof reconcileBilling>(RECONCILE_BILLING_WORKFLOW, { workflowId, args: [{}], mocks: { checkBillingPages, notifyBillingDifferences } });
    const result = await handle.result();

    expect(result).toEqual({
      checked: { charges: 40 * 500, fee_invoices: 500, payouts: 500, invoice_numbers: 500 },
      differences: 3,
      byKind: { sale_entry: 3 },
      sample: [difference(2), difference(33), difference(1)],
    });
    // Each charges page exactly once, in order, across the runs.
    const afters = t.calls(workflowId).filter((c) => (c.input as { check: string }).check === 'charges').map((c) => (c.input as { after: string | null }).after);
    expect(afters).toEqual([null, ...Array.from({ length: 39 }, (_, i) => `p${i + 1}`)]);
    const runs = new Set(t.calls(workflowId).map((c) => c.runId));
    expect(runs.size).toBeGreaterThan(1);
    expect(await historyEventTypes(t.client, workflowId, handle.firstExecutionRunId)).toContain('WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
    expect(told).toEqual([{ runKey: `${workflowId}:${handle.firstExecutionRunId}`, result }]);
  });
});
