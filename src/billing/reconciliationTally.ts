import { BILLING_CHECKS, type BillingCheckStep, type BillingDifference, type ReconcileBillingResult } from './contract';

/**
 * Adding up a billing reconciliation run (pure: the workflow and the on-demand check both use it): rows checked per
 * check, differences per kind, and the first few differences as a sample (the full list is logged where found).
 */

export const BILLING_SAMPLE_SIZE = 20;

export const emptyBillingTally = (): ReconcileBillingResult => ({
  checked: Object.fromEntries(BILLING_CHECKS.map((c) => [c, 0])) as ReconcileBillingResult['checked'],
  differences: 0,
  byKind: {},
  sample: [],
});

/** The kinds and sample of some differences (what one step reports). */
export function tallyDifferences(differences: readonly BillingDifference[]): Pick<BillingCheckStep, 'byKind' | 'sample'> {
  const byKind: BillingCheckStep['byKind'] = {};
  for (const d of differences) byKind[d.kind] = (byKind[d.kind] ?? 0) + 1;
  return { byKind, sample: differences.slice(0, BILLING_SAMPLE_SIZE) };
}

type ByKind = BillingCheckStep['byKind'];

/** Counts per kind added up. */
export function mergeByKind(a: ByKind, b: ByKind): ByKind {
  const byKind = { ...a };
  for (const [kind, count] of Object.entries(b) as Array<[keyof ByKind, number]>) byKind[kind] = (byKind[kind] ?? 0) + count;
  return byKind;
}

const total = (byKind: ByKind) => Object.values(byKind).reduce((sum: number, n) => sum + (n ?? 0), 0);

export function addBillingStep(result: ReconcileBillingResult, step: BillingCheckStep): ReconcileBillingResult {
  return {
    checked: { ...result.checked, [step.check]: result.checked[step.check] + step.checked },
    differences: result.differences + total(step.byKind),
    byKind: mergeByKind(result.byKind, step.byKind),
    sample: [...result.sample, ...step.sample].slice(0, BILLING_SAMPLE_SIZE),
  };
}

/** One line for operators (the workflow's current details, the notification's title). */
export function describeBillingTally(result: ReconcileBillingResult): string {
  const c = result.checked;
  const checked = `${c.charges} charges, ${c.fee_invoices} sellers' fee invoices, ${c.payouts} payouts, ${c.invoice_numbers} invoice number series checked`;
  if (!result.differences) return `${checked}; no difference`;
  const kinds = Object.entries(result.byKind)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return `${checked}; ${result.differences} difference${result.differences === 1 ? '' : 's'} (${kinds})`;
}
