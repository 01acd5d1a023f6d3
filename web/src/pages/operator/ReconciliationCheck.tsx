import { useMutation } from '@tanstack/react-query';
import { api } from '../../api/client';
import { ErrorBox } from '../../components/states';
import { words } from '../../lib/format';
import { unwrap } from '../../lib/problem';

/** The billing reconciliation run now (it only reads): ledger = invoices = gateway records, differences by kind. */
export function ReconciliationCheck() {
  const run = useMutation({ mutationFn: () => unwrap(api.GET('/v1/operator/billing/reconciliation')) });
  return (
    <section className="panel" aria-labelledby="reconcile-title">
      <h2 id="reconcile-title">Billing reconciliation</h2>
      <p className="hint">Runs daily on its schedule; runs that found differences are listed under “Needs attention”.</p>
      <button type="button" onClick={() => run.mutate()} disabled={run.isPending}>
        Check billing now
      </button>
      <div role="status" aria-live="polite">
        {run.isPending && <p>Checking…</p>}
        {run.data && (
          <>
            <p>
              {run.data.differences === 0 ? 'No differences: ' : `${run.data.differences} difference(s) in `}
              {Object.entries(run.data.checked)
                .map(([check, n]) => `${n} ${words(check)}`)
                .join(', ')}{' '}
              checked.
            </p>
            {run.data.differences > 0 && (
              <ul>
                {Object.entries(run.data.by_kind).map(([kind, n]) => (
                  <li key={kind}>
                    {words(kind)}: {n}
                  </li>
                ))}
              </ul>
            )}
          </>
        )}
      </div>
      {run.isError && <ErrorBox error={run.error} />}
    </section>
  );
}
