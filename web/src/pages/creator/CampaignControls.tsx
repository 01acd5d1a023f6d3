import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import type { Campaign } from '../../api/campaigns';
import { campaignPledgesKey } from '../../api/pledges';
import { Field } from '../../components/Field';
import { ErrorBox } from '../../components/states';
import { dateTime } from '../../lib/format';
import { toProblem, unwrap } from '../../lib/problem';
import { SubmitAndSay } from '../../components/SubmitAndSay';

/** A Date as the value of an <input type="datetime-local"> (the reader's local time, to the minute). */
function localInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** Extend the deadline and cancel the campaign (owner or operator, while it is not decided). */
export function CampaignControls({ campaign }: { campaign: Campaign }) {
  const open = campaign.status === 'live' || campaign.status === 'scheduled' || campaign.status === 'draft';
  if (!open) {
    return (
      <section className="panel" aria-labelledby="controls-title">
        <h2 id="controls-title">Campaign</h2>
        <p>
          {/* The outcome stays the news once settlement is done: "cancelled, settled" rather than just "settled". */}
          This campaign is {campaign.outcome ?? campaign.status}
          {campaign.status === 'settled' && campaign.outcome ? ' and settled' : ''}: its deadline can no longer change.
        </p>
      </section>
    );
  }
  return (
    <>
      {campaign.status !== 'draft' && <ExtendDeadline campaign={campaign} />}
      <CancelCampaign campaign={campaign} />
    </>
  );
}

function useCampaignUpdate(campaign: Campaign) {
  const queries = useQueryClient();
  return (updated: Campaign) => {
    queries.setQueryData(['campaign', campaign.id], updated);
    void queries.invalidateQueries({ queryKey: campaignPledgesKey(campaign.id) });
  };
}

function ExtendDeadline({ campaign }: { campaign: Campaign }) {
  const update = useCampaignUpdate(campaign);
  const [value, setValue] = useState(() => localInput(new Date(new Date(campaign.ends_at).getTime() + 7 * 86_400_000)));
  const [said, setSaid] = useState('');
  const extend = useMutation({
    mutationFn: (endsAt: string) => unwrap(api.POST('/v1/campaigns/{id}/deadline', { params: { path: { id: campaign.id } }, body: { ends_at: endsAt } })),
    onSuccess: (updated) => {
      update(updated);
      setSaid(`Deadline moved to ${dateTime(updated.ends_at)}.`);
    },
  });
  const problem = extend.error ? toProblem(extend.error) : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaid('');
    const when = new Date(value);
    // An unreadable date goes to the API as-is, so its validation message marks the field.
    extend.mutate(Number.isNaN(when.getTime()) ? value : when.toISOString());
  };
  return (
    <section className="panel" aria-labelledby="deadline-title">
      <h2 id="deadline-title">Extend the deadline</h2>
      <form onSubmit={submit} noValidate>
        {problem && <ErrorBox error={problem} />}
        <Field
          label="New deadline"
          type="datetime-local"
          required
          value={value}
          onChange={(e) => setValue(e.target.value)}
          hint={`Now ${dateTime(campaign.ends_at)}. The new one must be later, in your local time.`}
          error={problem?.field('ends_at') ?? (problem?.status === 422 || problem?.status === 409 ? problem.detail : undefined)}
        />
        <SubmitAndSay busy={extend.isPending} label="Extend deadline" busyLabel="Saving…" said={said} />
      </form>
    </section>
  );
}

function CancelCampaign({ campaign }: { campaign: Campaign }) {
  const update = useCampaignUpdate(campaign);
  const [asking, setAsking] = useState(false);
  const cancel = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/campaigns/{id}/cancel', { params: { path: { id: campaign.id } } })),
    onSuccess: (updated) => {
      update(updated);
      setAsking(false);
    },
  });
  return (
    <section className="panel" aria-labelledby="cancel-title">
      <h2 id="cancel-title">Cancel the campaign</h2>
      {cancel.error && <ErrorBox error={cancel.error} />}
      {asking ? (
        <>
          <p>Cancel “{campaign.title}”? Every backer's hold is released and nobody is charged. This cannot be undone.</p>
          <div className="row">
            <button type="button" className="danger" autoFocus onClick={() => cancel.mutate()} disabled={cancel.isPending}>
              {cancel.isPending ? 'Cancelling…' : 'Yes, cancel the campaign'}
            </button>
            <button type="button" className="secondary" onClick={() => setAsking(false)}>
              Keep it running
            </button>
          </div>
        </>
      ) : (
        <button type="button" className="secondary" onClick={() => setAsking(true)}>
          Cancel campaign…
        </button>
      )}
    </section>
  );
}
