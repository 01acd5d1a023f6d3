import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { QueryView } from '../../components/QueryView';
import { ErrorBox } from '../../components/states';
import { dateTime } from '../../lib/format';
import { unwrap } from '../../lib/problem';
import { OVERVIEW_KEY, PENDING_PROVIDERS_KEY, temporalWorkflowUrl, usePendingProviders, type Overview, type QueuedProvider } from './operatorApi';

/** Providers awaiting approval, each approved or rejected here (Updates of its `provider:<id>` workflow). */
export function ProviderQueue({ temporal }: { temporal: Overview['temporal'] }) {
  const providers = usePendingProviders();
  const [said, setSaid] = useState('');
  return (
    <section className="panel" aria-labelledby="providers-title">
      <h2 id="providers-title">Providers awaiting approval</h2>
      <p className="visually-hidden" role="status" aria-live="polite">
        {said}
      </p>
      <QueryView query={providers} what="providers" empty="No provider is waiting for a decision.">
        {(data) => (
          <ul className="lines">
            {data.data.map((p) => (
              <PendingProvider key={p.id} provider={p} temporal={temporal} onDecided={setSaid} />
            ))}
          </ul>
        )}
      </QueryView>
    </section>
  );
}

function PendingProvider({ provider: p, temporal, onDecided }: { provider: QueuedProvider; temporal: Overview['temporal']; onDecided: (said: string) => void }) {
  const queries = useQueryClient();
  const [reason, setReason] = useState('');
  const decide = useMutation({
    mutationFn: (approve: boolean) =>
      approve
        ? unwrap(api.POST('/v1/operator/providers/{id}/approve', { params: { path: { id: p.id } } }))
        : unwrap(api.POST('/v1/operator/providers/{id}/reject', { params: { path: { id: p.id } }, body: reason.trim() ? { reason: reason.trim() } : {} })),
    onSuccess: (decided) => {
      onDecided(`${decided.display_name} is ${decided.status === 'active' ? 'approved and active' : 'rejected'}.`);
      void queries.invalidateQueries({ queryKey: PENDING_PROVIDERS_KEY });
      void queries.invalidateQueries({ queryKey: OVERVIEW_KEY });
    },
  });
  const reasonId = `reason-${p.id}`;
  return (
    <li className="line" aria-label={p.display_name}>
      <div>
        <strong>{p.display_name}</strong> · {p.categories.join(', ')} · {p.city}, {p.country}
        <p className="meta">
          {p.owner.name} ({p.owner.email}) · onboarded <time dateTime={p.created_at}>{dateTime(p.created_at)}</time> ·{' '}
          <a href={temporalWorkflowUrl(temporal, p.workflow_id)}>{p.workflow_id} in Temporal</a>
        </p>
      </div>
      <div className="line-actions">
        <button type="button" onClick={() => decide.mutate(true)} disabled={decide.isPending} aria-label={`Approve ${p.display_name}`}>
          Approve
        </button>
        <label htmlFor={reasonId}>Reason (optional)</label>
        <input id={reasonId} value={reason} onChange={(e) => setReason(e.target.value)} maxLength={2000} />
        <button type="button" className="secondary" onClick={() => decide.mutate(false)} disabled={decide.isPending} aria-label={`Reject ${p.display_name}`}>
          Reject
        </button>
        {decide.isError && <ErrorBox error={decide.error} />}
      </div>
    </li>
  );
}
