import { useId, useState, type FormEvent } from 'react';
import { Link, useLocation } from 'react-router-dom';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../api/client';
import type { Campaign } from '../api/campaigns';
import { useUser } from '../api/useSession';
import { Field, SelectField } from '../components/Field';
import { ErrorBox } from '../components/states';
import { minorDigits, money, toMinor } from '../lib/format';
import { toProblem, unwrap } from '../lib/problem';

/** The simulated gateway's (and Stripe's) test cards, with what each one does. */
export const TEST_CARDS = [
  { value: 'pm_card_visa', label: 'Visa ending 4242 (succeeds)' },
  { value: 'pm_card_chargeDeclined', label: 'Card declined' },
  { value: 'pm_card_chargeDeclinedInsufficientFunds', label: 'Declined: insufficient funds' },
  { value: 'pm_card_authenticationRequired', label: 'Requires 3-D Secure' },
] as const;

/** Minor units to the number a person types: 2500 → "25" (or "25.5" for 2550). */
const major = (cents: number, currency: string) => String(cents / 10 ** minorDigits(currency));

export function PledgeForm({ campaign }: { campaign: Campaign }) {
  const user = useUser();
  const location = useLocation();
  const queries = useQueryClient();
  const tierGroup = useId();
  const [tierId, setTierId] = useState('');
  const [amount, setAmount] = useState('');
  const [card, setCard] = useState<string>(TEST_CARDS[0].value);

  const pledge = useMutation({
    mutationFn: (body: { amount_cents: number; reward_tier_id?: string; payment_method: string }) =>
      unwrap(
        api.POST('/v1/campaigns/{id}/pledges', {
          params: { path: { id: campaign.id }, header: { 'idempotency-key': crypto.randomUUID() } },
          body,
        }),
      ),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['campaign', campaign.id] }),
  });

  if (campaign.status !== 'live') {
    return (
      <section className="panel" aria-labelledby="pledge">
        <h2 id="pledge">Pledge</h2>
        <p>{campaign.status === 'scheduled' ? 'Pledges open when the campaign starts.' : 'This campaign is not taking pledges.'}</p>
      </section>
    );
  }
  if (!user) {
    return (
      <section className="panel" aria-labelledby="pledge">
        <h2 id="pledge">Pledge</h2>
        <p>
          <Link to={`/signin?next=${encodeURIComponent(location.pathname)}`}>Sign in</Link> or <Link to={`/signup?next=${encodeURIComponent(location.pathname)}`}>create an account</Link> to back this campaign.
        </p>
      </section>
    );
  }
  if (pledge.isSuccess) {
    return (
      <section className="panel" aria-labelledby="pledge">
        <h2 id="pledge">Thank you</h2>
        <p role="status">
          Your pledge of {money(pledge.data.amount_cents, pledge.data.currency)} is in.{' '}
          {campaign.funding_model === 'all_or_nothing' ? 'Your card is charged only if the campaign reaches its goal.' : 'Your card is charged at the deadline.'}
        </p>
      </section>
    );
  }

  const problem = pledge.error ? toProblem(pledge.error) : undefined;
  const pickTier = (id: string) => {
    setTierId(id);
    const tier = campaign.reward_tiers.find((t) => t.id === id);
    if (tier && (toMinor(amount, campaign.currency) || 0) < tier.min_amount_cents) setAmount(major(tier.min_amount_cents, campaign.currency));
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    pledge.mutate({ amount_cents: toMinor(amount, campaign.currency) || 0, ...(tierId ? { reward_tier_id: tierId } : {}), payment_method: card });
  };

  return (
    <section className="panel" aria-labelledby="pledge">
      <h2 id="pledge">Back this campaign</h2>
      <form onSubmit={submit} noValidate>
        {problem && <ErrorBox error={problem} />}
        {problem?.code === 'requires_action' && (
          <p className="notice" role="status">
            Your bank asks for 3-D Secure authentication for this card. The pledge waits for it; try another card to pledge now.
          </p>
        )}
        {campaign.reward_tiers.length > 0 && (
          <fieldset className={problem?.field('reward_tier_id') ? 'invalid' : ''}>
            <legend>Reward</legend>
            <label className="choice">
              <input type="radio" name={tierGroup} value="" checked={tierId === ''} onChange={() => pickTier('')} /> No reward, just support
            </label>
            {campaign.reward_tiers.map((t) => (
              <label key={t.id} className="choice">
                <input type="radio" name={tierGroup} value={t.id} checked={tierId === t.id} disabled={t.remaining === 0} onChange={() => pickTier(t.id)} /> {t.title} ({money(t.min_amount_cents, campaign.currency)}+
                {t.remaining === 0 ? ', sold out' : t.remaining !== null ? `, ${t.remaining} left` : ''})
              </label>
            ))}
          </fieldset>
        )}
        <Field
          label={`Amount (${campaign.currency})`}
          inputMode="decimal"
          required
          value={amount}
          onChange={(e) => setAmount(e.target.value)}
          error={problem?.field('amount_cents') ?? (problem?.code === 'below_reward_minimum' ? problem.detail : undefined)}
        />
        <SelectField label="Card (test cards)" value={card} onChange={setCard} options={[...TEST_CARDS]} error={problem?.field('payment_method')} />
        <button type="submit" disabled={pledge.isPending}>
          {pledge.isPending ? 'Pledging…' : 'Pledge'}
        </button>
      </form>
    </section>
  );
}
