import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { useMutation } from '@tanstack/react-query';
import { api } from '../api/client';
import { CATEGORIES, type CampaignCategory } from '../api/campaigns';
import { useUser } from '../api/useSession';
import { Field, SelectField } from '../components/Field';
import { ErrorBox } from '../components/states';
import { toMinor, words } from '../lib/format';
import { toProblem, unwrap } from '../lib/problem';
import { useTitle } from '../lib/useTitle';

interface TierDraft {
  title: string;
  amount: string;
  quantity: string;
  description: string;
}

const emptyTier = (): TierDraft => ({ title: '', amount: '', quantity: '', description: '' });

/** A `datetime-local` value (the creator's wall clock) a month from now. */
function inAMonth(): string {
  const d = new Date(Date.now() + 30 * 86_400_000);
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset(), 0, 0);
  return d.toISOString().slice(0, 16);
}

/** Creators: a campaign with its reward tiers, saved as a draft; the campaign page then offers to launch it. */
export function NewCampaignPage() {
  useTitle('Start a campaign');
  const user = useUser();
  const navigate = useNavigate();
  const [form, setForm] = useState({
    title: '',
    description: '',
    category: 'creative' as CampaignCategory,
    goal: '',
    currency: 'USD',
    endsAt: inAMonth(),
    fundingModel: 'all_or_nothing' as 'all_or_nothing' | 'flexible',
    webhookUrl: '',
  });
  const [tiers, setTiers] = useState<TierDraft[]>([]);
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/v1/campaigns', {
          body: {
            title: form.title,
            description: form.description,
            category: form.category,
            goal_cents: toMinor(form.goal, form.currency) || 0,
            currency: form.currency,
            // The wall-clock time the creator picked, in their time zone, sent as UTC.
            ends_at: form.endsAt ? new Date(form.endsAt).toISOString() : '',
            funding_model: form.fundingModel,
            reward_tiers: tiers.map((t) => ({
              title: t.title,
              description: t.description,
              min_amount_cents: toMinor(t.amount, form.currency) || 0,
              ...(t.quantity.trim() ? { quantity: Number(t.quantity) } : {}),
            })),
            ...(form.webhookUrl.trim() ? { webhook_url: form.webhookUrl.trim() } : {}),
          },
        }),
      ),
    // The webhook secret comes only in this answer: the dashboard shows it once (navigation state, not the URL).
    onSuccess: (campaign) =>
      campaign.webhook_secret ? navigate(`/creator/campaigns/${campaign.id}`, { state: { webhookSecret: campaign.webhook_secret } }) : navigate(`/campaigns/${campaign.id}`),
  });

  if (!user || (user.role !== 'creator' && user.role !== 'operator')) {
    return (
      <section className="narrow">
        <h1>Start a campaign</h1>
        <p>
          {user ? 'Campaigns are run from a creator account.' : 'Sign in with a creator account to start a campaign.'}{' '}
          {user ? <Link to="/signup">Create a creator account</Link> : <Link to="/signin?next=/campaigns/new">Sign in</Link>}.
        </p>
      </section>
    );
  }

  const problem = create.error ? toProblem(create.error) : undefined;
  const setTier = (i: number, change: Partial<TierDraft>) => setTiers(tiers.map((t, j) => (j === i ? { ...t, ...change } : t)));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };

  return (
    <section className="narrow">
      <h1>Start a campaign</h1>
      <form onSubmit={submit} noValidate>
        {problem && <ErrorBox error={problem} />}
        <Field label="Title" required value={form.title} onChange={(e) => setForm({ ...form, title: e.target.value })} error={problem?.field('title')} />
        <div className={`field${problem?.field('description') ? ' invalid' : ''}`}>
          <label htmlFor="story">Story</label>
          <textarea id="story" rows={6} value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} />
        </div>
        <SelectField label="Category" value={form.category} onChange={(v) => setForm({ ...form, category: v as CampaignCategory })} options={CATEGORIES.map((c) => ({ value: c, label: words(c) }))} error={problem?.field('category')} />
        <div className="row">
          <Field label="Goal" inputMode="decimal" required value={form.goal} onChange={(e) => setForm({ ...form, goal: e.target.value })} error={problem?.field('goal_cents')} />
          <Field label="Currency" required maxLength={3} value={form.currency} onChange={(e) => setForm({ ...form, currency: e.target.value.toUpperCase() })} error={problem?.field('currency')} hint="ISO code, e.g. USD" />
        </div>
        <Field label="Ends at" type="datetime-local" required value={form.endsAt} onChange={(e) => setForm({ ...form, endsAt: e.target.value })} error={problem?.field('ends_at')} hint="Your local time." />
        <Field label="Webhook URL (optional)" type="url" value={form.webhookUrl} onChange={(e) => setForm({ ...form, webhookUrl: e.target.value })} error={problem?.field('webhook_url')} hint="Receives signed events (new pledges, the outcome); its secret is shown once after saving." />
        <SelectField
          label="Funding"
          value={form.fundingModel}
          onChange={(v) => setForm({ ...form, fundingModel: v as typeof form.fundingModel })}
          options={[
            { value: 'all_or_nothing', label: 'All or nothing (charged only if the goal is met)' },
            { value: 'flexible', label: 'Flexible (every pledge is collected)' },
          ]}
        />
        <fieldset>
          <legend>Reward tiers</legend>
          {tiers.length === 0 && <p className="empty">No tiers yet: backers can pledge any amount.</p>}
          {tiers.map((t, i) => (
            <div key={i} className="tier-editor">
              <Field label={`Tier ${i + 1} title`} value={t.title} onChange={(e) => setTier(i, { title: e.target.value })} error={problem?.field(`reward_tiers.${i}.title`)} />
              <div className="row">
                <Field label={`Tier ${i + 1} minimum pledge`} inputMode="decimal" value={t.amount} onChange={(e) => setTier(i, { amount: e.target.value })} error={problem?.field(`reward_tiers.${i}.min_amount_cents`)} />
                <Field label={`Tier ${i + 1} quantity`} inputMode="numeric" value={t.quantity} onChange={(e) => setTier(i, { quantity: e.target.value })} error={problem?.field(`reward_tiers.${i}.quantity`)} hint="Empty: unlimited" />
              </div>
              <Field label={`Tier ${i + 1} description`} value={t.description} onChange={(e) => setTier(i, { description: e.target.value })} />
              <button type="button" className="link" onClick={() => setTiers(tiers.filter((_, j) => j !== i))}>
                Remove tier {i + 1}
              </button>
            </div>
          ))}
          <button type="button" className="secondary" onClick={() => setTiers([...tiers, emptyTier()])}>
            Add a reward tier
          </button>
        </fieldset>
        <button type="submit" disabled={create.isPending}>
          {create.isPending ? 'Saving…' : 'Save draft'}
        </button>
      </form>
    </section>
  );
}
