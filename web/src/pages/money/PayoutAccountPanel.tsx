import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { Field } from '../../components/Field';
import { ErrorBox } from '../../components/states';
import { QueryView } from '../../components/QueryView';
import { toProblem, unwrap } from '../../lib/problem';
import { useMyPayoutAccount } from './moneyApi';

const STATUS_WORDS = {
  missing: 'No payout account yet: your available money waits here until you open one.',
  pending: 'Opened; the payment provider still needs some details from you.',
  ready: 'Ready: payouts are sent to this account.',
} as const;

/** Where payouts go: the account's status, and opening it (or resuming its onboarding) at the payment provider. */
export function PayoutAccountPanel() {
  const account = useMyPayoutAccount(true);
  const queries = useQueryClient();
  const [country, setCountry] = useState('');
  const open = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/me/payout-account', { body: country ? { country: country.toUpperCase() } : {} })),
    onSuccess: (data) => queries.setQueryData(['me', 'payout-account'], data),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    open.mutate();
  };
  const problem = open.isError ? toProblem(open.error) : undefined;
  return (
    <section className="panel" aria-labelledby="account-title">
      <h2 id="account-title">Payout account</h2>
      <QueryView query={account} what="your payout account">
        {(data) => (
          <>
            <p role="status" aria-live="polite">
              <span className={`status status-${data.status}`}>{data.status}</span> {STATUS_WORDS[data.status]}
            </p>
            {data.status === 'pending' && data.onboarding_url && (
              <p>
                <a href={data.onboarding_url}>Finish onboarding at the payment provider</a>
              </p>
            )}
            {data.status === 'missing' && (
              <form onSubmit={submit} noValidate>
                <Field
                  label="Country (two letters)"
                  value={country}
                  onChange={(e) => setCountry(e.target.value)}
                  maxLength={2}
                  autoComplete="country"
                  hint="Where your bank account is, e.g. DE. Providers may leave it empty."
                  error={problem?.field('country')}
                />
                <button type="submit" disabled={open.isPending}>
                  Open payout account
                </button>
                {problem && !problem.field('country') && <ErrorBox error={problem} />}
              </form>
            )}
          </>
        )}
      </QueryView>
    </section>
  );
}
