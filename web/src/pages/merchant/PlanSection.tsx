import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { SelectField } from '../../components/Field';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { dateTime, money, words } from '../../lib/format';
import { toProblem, unwrap } from '../../lib/problem';
import { useTitle } from '../../lib/useTitle';
import { TEST_CARDS } from '../PledgeForm';
import { useAdminStore } from './StoreAdminPage';
import { merchantKeys, usePlans, useSubscription, type Plan, type Subscription } from './merchantApi';

const percent = (bps: number) => new Intl.NumberFormat(navigator.language || 'en-US', { style: 'percent', maximumFractionDigits: 2 }).format(bps / 10_000);
const limit = (n: number | null, what: string) => (n === null ? `unlimited ${what}` : `${n} ${what}`);

/** The store's merchant plan: the plans with price and fee, subscribe with a test card, change plan, cancel at period end. */
export function PlanSection() {
  const store = useAdminStore();
  useTitle(`Plan: ${store.name}`);
  const plans = usePlans();
  const subscription = useSubscription(store.id);
  if (plans.isPending || subscription.isPending) return <Loading what="plans" />;
  if (plans.isError) return <ErrorBox error={plans.error} retry={() => void plans.refetch()} />;
  if (subscription.isError) return <ErrorBox error={subscription.error} retry={() => void subscription.refetch()} />;
  return (
    <div className="columns">
      <section aria-labelledby="plans-title">
        <h2 id="plans-title">Plans</h2>
        {plans.data.data.length === 0 ? (
          <Empty>No plans are offered.</Empty>
        ) : (
          <ul className="tiers" aria-label="Plans">
            {plans.data.data.map((p) => (
              <li key={p.id} aria-current={subscription.data?.plan_id === p.id ? 'true' : undefined}>
                <strong>{p.name}</strong>
                {subscription.data?.plan_id === p.id && (
                  <>
                    {' '}
                    <span className="status">your plan</span>
                  </>
                )}
                <p>
                  {money(p.price_cents, p.currency)} per {p.interval} · {percent(p.transaction_fee_bps)} fee on sales
                </p>
                <p className="meta">
                  {limit(p.limits.products, 'products')}, {limit(p.limits.drops_per_month, 'drops a month')}, {limit(p.limits.hot_variants, 'flash-sale variants')}
                </p>
              </li>
            ))}
          </ul>
        )}
      </section>
      <aside>{subscription.data ? <CurrentPlan subscription={subscription.data} plans={plans.data.data} /> : <Subscribe plans={plans.data.data} />}</aside>
    </div>
  );
}

function useSubscriptionUpdate() {
  const store = useAdminStore();
  const queries = useQueryClient();
  return (now: Subscription) => queries.setQueryData(merchantKeys.subscription(store.id), now);
}

function Subscribe({ plans }: { plans: Plan[] }) {
  const store = useAdminStore();
  const update = useSubscriptionUpdate();
  const [planId, setPlanId] = useState(plans[0]?.id ?? '');
  const [card, setCard] = useState<string>(TEST_CARDS[0].value);
  const subscribe = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/stores/{store_id}/subscription', { params: { path: { store_id: store.id } }, body: { plan_id: planId, payment_method: card } })),
    onSuccess: update,
  });
  const problem = subscribe.error ? toProblem(subscribe.error) : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    subscribe.mutate();
  };
  return (
    <section className="panel" aria-labelledby="subscribe-title">
      <h2 id="subscribe-title">Subscribe</h2>
      <p>This store has no plan yet. The first period is charged at once.</p>
      <form onSubmit={submit} noValidate>
        {problem && <ErrorBox error={problem} />}
        <SelectField label="Plan" value={planId} onChange={setPlanId} options={plans.map((p) => ({ value: p.id, label: `${p.name}: ${money(p.price_cents, p.currency)} per ${p.interval}` }))} error={problem?.field('plan_id')} />
        <SelectField
          label="Card (test cards)"
          value={card}
          onChange={setCard}
          options={[...TEST_CARDS]}
          error={problem?.field('payment_method') ?? (problem?.code === 'payment_declined' ? 'The card was declined: nothing was charged. Try another card.' : undefined)}
        />
        <button type="submit" disabled={subscribe.isPending}>
          {subscribe.isPending ? 'Subscribing…' : 'Subscribe'}
        </button>
      </form>
    </section>
  );
}

function CurrentPlan({ subscription, plans }: { subscription: Subscription; plans: Plan[] }) {
  const store = useAdminStore();
  const update = useSubscriptionUpdate();
  const current = plans.find((p) => p.id === subscription.plan_id);
  const others = plans.filter((p) => p.id !== subscription.plan_id && p.interval === current?.interval && p.currency === current?.currency);
  const [picked, setPicked] = useState(others[0]?.id ?? '');
  // After a change the choices are the other plans: a pick that is now the current plan falls back to the first.
  const planId = others.some((p) => p.id === picked) ? picked : (others[0]?.id ?? '');
  const [asking, setAsking] = useState(false);
  const [said, setSaid] = useState('');
  const change = useMutation({
    mutationFn: () => unwrap(api.PATCH('/v1/stores/{store_id}/subscription', { params: { path: { store_id: store.id } }, body: { plan_id: planId } })),
    onSuccess: (now) => {
      update(now);
      setSaid(`Now on ${plans.find((p) => p.id === now.plan_id)?.name ?? now.plan_id}.`);
    },
  });
  const cancel = useMutation({
    mutationFn: () => unwrap(api.DELETE('/v1/stores/{store_id}/subscription', { params: { path: { store_id: store.id } } })),
    onSuccess: (now) => {
      update(now);
      setAsking(false);
      setSaid(`The plan ends on ${dateTime(now.current_period_end)}.`);
    },
  });
  const active = subscription.status === 'active' && !subscription.cancel_at_period_end;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaid('');
    change.mutate();
  };
  return (
    <section className="panel" aria-labelledby="current-plan-title">
      <h2 id="current-plan-title">Your plan</h2>
      <dl className="facts">
        <dt>Plan</dt>
        <dd data-testid="current-plan">{current?.name ?? subscription.plan_id}</dd>
        <dt>Status</dt>
        <dd data-testid="plan-status">{words(subscription.status)}{subscription.cancel_at_period_end && ', ends at period end'}</dd>
        <dt>{subscription.cancel_at_period_end ? 'Ends' : 'Renews'}</dt>
        <dd>
          <time dateTime={subscription.current_period_end}>{dateTime(subscription.current_period_end)}</time>
        </dd>
        {subscription.credit_balance_cents > 0 && subscription.currency && (
          <>
            <dt>Credit</dt>
            <dd>{money(subscription.credit_balance_cents, subscription.currency)}</dd>
          </>
        )}
      </dl>
      {active && others.length > 0 && (
        <form onSubmit={submit} noValidate>
          {change.error && <ErrorBox error={change.error} />}
          <SelectField label="Change to" value={planId} onChange={setPicked} options={others.map((p) => ({ value: p.id, label: `${p.name}: ${money(p.price_cents, p.currency)} per ${p.interval}` }))} />
          <p className="hint">Prorated to the second: a higher plan is charged now for the rest of the period; a lower one leaves credit.</p>
          <button type="submit" disabled={change.isPending}>
            {change.isPending ? 'Changing…' : 'Change plan'}
          </button>
        </form>
      )}
      {active && (
        <>
          {cancel.error && <ErrorBox error={cancel.error} />}
          {asking ? (
            <>
              <p>Cancel at the end of the period? The store keeps its plan until {dateTime(subscription.current_period_end)} and is not charged again.</p>
              <div className="row">
                <button type="button" className="danger" autoFocus onClick={() => cancel.mutate()} disabled={cancel.isPending}>
                  Yes, cancel at period end
                </button>
                <button type="button" className="secondary" onClick={() => setAsking(false)}>
                  Keep the plan
                </button>
              </div>
            </>
          ) : (
            <button type="button" className="secondary" onClick={() => setAsking(true)}>
              Cancel plan…
            </button>
          )}
        </>
      )}
      <p role="status" aria-live="polite">
        {said}
      </p>
    </section>
  );
}
