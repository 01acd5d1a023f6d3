import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { useCampaign } from '../../api/campaigns';
import { Field, SelectField } from '../../components/Field';
import { ErrorBox, Loading } from '../../components/states';
import { minorDigits, money, toMinor } from '../../lib/format';
import { toProblem, unwrap, type ApiProblem } from '../../lib/problem';
import { TEST_CARDS } from '../PledgeForm';
import { MY_PLEDGES_KEY, type MyPledge } from '../../api/pledges';

type Mode = 'idle' | 'edit' | 'cancel' | 'card';

/** The last-24-hours rule, said plainly when the API refuses a change for it. */
function RuleExplained({ problem }: { problem: ApiProblem | undefined }) {
  if (problem?.code !== 'would_drop_below_goal') return null;
  return (
    <p className="notice">
      In the last 24 hours before the deadline, a pledge cannot be cancelled or lowered when that would take an all-or-nothing campaign below
      its goal: creators count on the pledges that got them there. You can still raise your pledge or pick another reward.
    </p>
  );
}

/** Edit, cancel, confirm (3-D Secure) or replace the card of one pledge, as its status allows. */
export function PledgeActions({ pledge, onDone }: { pledge: MyPledge; onDone: (said: string) => void }) {
  const queries = useQueryClient();
  const [mode, setMode] = useState<Mode>('idle');
  const done = (said: string) => {
    setMode('idle');
    onDone(said);
    void queries.invalidateQueries({ queryKey: MY_PLEDGES_KEY });
    void queries.invalidateQueries({ queryKey: ['campaign', pledge.campaign.id] });
  };
  const live = pledge.campaign.status === 'live';
  const inDropWindow = pledge.status === 'payment_failed' && pledge.drop_deadline !== null && new Date(pledge.drop_deadline) > new Date();

  const confirm = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/pledges/{id}/confirm', { params: { path: { id: pledge.id }, header: { 'idempotency-key': crypto.randomUUID() } } })),
    onSuccess: (p) => done(p.status === 'active' ? 'Payment confirmed: your pledge is active.' : 'The payment provider is still deciding; check back shortly.'),
  });

  if (mode === 'edit') return <EditPledge pledge={pledge} onCancel={() => setMode('idle')} onDone={done} />;
  if (mode === 'cancel') return <CancelPledge pledge={pledge} onCancel={() => setMode('idle')} onDone={done} />;
  if (mode === 'card') return <UpdateCard pledge={pledge} onCancel={() => setMode('idle')} onDone={done} />;

  const confirmProblem = confirm.error ? toProblem(confirm.error) : undefined;
  return (
    <div className="row actions">
      {pledge.status === 'requires_action' && (
        <>
          {confirmProblem && <ErrorBox error={confirmProblem} />}
          {confirmProblem?.code === 'requires_action' && <p className="notice">Your bank has not seen the authentication yet. Finish it in your banking app, then confirm again.</p>}
          <button type="button" onClick={() => confirm.mutate()} disabled={confirm.isPending}>
            {confirm.isPending ? 'Confirming…' : 'I have authenticated: confirm payment'}
          </button>
        </>
      )}
      {live && pledge.status === 'active' && (
        <>
          <button type="button" className="secondary" onClick={() => setMode('edit')}>
            Change pledge
          </button>
          <button type="button" className="secondary" onClick={() => setMode('cancel')}>
            Cancel pledge
          </button>
        </>
      )}
      {(inDropWindow || (live && pledge.status === 'active')) && (
        <button type="button" className="secondary" onClick={() => setMode('card')}>
          Update card
        </button>
      )}
    </div>
  );
}

interface FormProps {
  pledge: MyPledge;
  onCancel: () => void;
  onDone: (said: string) => void;
}

const major = (cents: number, currency: string) => String(cents / 10 ** minorDigits(currency));

function EditPledge({ pledge, onCancel, onDone }: FormProps) {
  const campaign = useCampaign(pledge.campaign.id);
  const [amount, setAmount] = useState(major(pledge.amount_cents, pledge.currency));
  const [tierId, setTierId] = useState(pledge.reward_tier_id ?? '');
  const edit = useMutation({
    mutationFn: (body: { amount_cents: number; reward_tier_id: string | null }) => unwrap(api.PATCH('/v1/pledges/{id}', { params: { path: { id: pledge.id } }, body })),
    onSuccess: (p) => onDone(`Pledge changed to ${money(p.amount_cents, p.currency)}.`),
  });
  if (campaign.isPending) return <Loading what="the campaign's rewards" />;
  if (campaign.isError) return <ErrorBox error={campaign.error} retry={() => void campaign.refetch()} />;

  const problem = edit.error ? toProblem(edit.error) : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    edit.mutate({ amount_cents: toMinor(amount, pledge.currency) || 0, reward_tier_id: tierId || null });
  };
  const tiers = campaign.data.reward_tiers;
  return (
    <form onSubmit={submit} noValidate aria-label={`Change your pledge to ${pledge.campaign.title}`}>
      {problem && <ErrorBox error={problem} />}
      <RuleExplained problem={problem} />
      <Field
        label={`New amount (${pledge.currency})`}
        autoFocus
        inputMode="decimal"
        required
        value={amount}
        onChange={(e) => setAmount(e.target.value)}
        error={problem?.field('amount_cents') ?? (problem?.code === 'below_reward_minimum' || problem?.code === 'would_drop_below_goal' ? problem.detail : undefined)}
      />
      {tiers.length > 0 && (
        <SelectField
          label="Reward"
          value={tierId}
          onChange={setTierId}
          error={problem?.field('reward_tier_id') ?? (problem?.code === 'reward_sold_out' || problem?.code === 'invalid_reward_tier' ? problem.detail : undefined)}
          options={[
            { value: '', label: 'No reward, just support' },
            ...tiers.map((t) => ({
              value: t.id,
              label: `${t.title} (${money(t.min_amount_cents, pledge.currency)}+${t.remaining === 0 && t.id !== pledge.reward_tier_id ? ', sold out' : ''})`,
            })),
          ]}
        />
      )}
      <div className="row">
        <button type="submit" disabled={edit.isPending}>
          {edit.isPending ? 'Saving…' : 'Save change'}
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          Keep it as it is
        </button>
      </div>
    </form>
  );
}

function CancelPledge({ pledge, onCancel, onDone }: FormProps) {
  const cancel = useMutation({
    mutationFn: () => unwrap(api.DELETE('/v1/pledges/{id}', { params: { path: { id: pledge.id } } })),
    onSuccess: () => onDone('Pledge cancelled: nothing will be charged.'),
  });
  const problem = cancel.error ? toProblem(cancel.error) : undefined;
  return (
    <div role="group" aria-label={`Cancel your pledge to ${pledge.campaign.title}`}>
      {problem && <ErrorBox error={problem} />}
      <RuleExplained problem={problem} />
      <p>
        Cancel your pledge of {money(pledge.amount_cents, pledge.currency)}? The hold on your card is released and your reward slot goes back to
        the campaign.
      </p>
      <div className="row">
        <button type="button" className="danger" autoFocus onClick={() => cancel.mutate()} disabled={cancel.isPending}>
          {cancel.isPending ? 'Cancelling…' : 'Yes, cancel my pledge'}
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          Keep my pledge
        </button>
      </div>
    </div>
  );
}

function UpdateCard({ pledge, onCancel, onDone }: FormProps) {
  const [card, setCard] = useState<string>(TEST_CARDS[0].value);
  const update = useMutation({
    mutationFn: () => unwrap(api.PUT('/v1/pledges/{id}/payment-method', { params: { path: { id: pledge.id } }, body: { payment_method: card } })),
    onSuccess: (p) => onDone(p.status === 'collected' ? 'Card updated and charged: your pledge is collected.' : 'Card updated.'),
  });
  const problem = update.error ? toProblem(update.error) : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    update.mutate();
  };
  return (
    <form onSubmit={submit} noValidate aria-label={`Update the card for your pledge to ${pledge.campaign.title}`}>
      {problem && <ErrorBox error={problem} />}
      {pledge.status === 'payment_failed' && <p>The new card is charged at once for {money(pledge.amount_cents, pledge.currency)}.</p>}
      <SelectField label="New card (test cards)" value={card} onChange={setCard} options={[...TEST_CARDS]} error={problem?.field('payment_method') ?? (problem?.code === 'payment_declined' ? problem.detail : undefined)} />
      <div className="row">
        <button type="submit" disabled={update.isPending}>
          {update.isPending ? 'Updating…' : 'Use this card'}
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          Keep the current card
        </button>
      </div>
    </form>
  );
}
