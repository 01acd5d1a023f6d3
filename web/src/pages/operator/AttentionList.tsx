import { useState } from 'react';
import { Link } from 'react-router-dom';
import { SelectField } from '../../components/Field';
import { QueryView } from '../../components/QueryView';
import { dateTime, money, words } from '../../lib/format';
import { temporalWorkflowUrl, useAttention, type AttentionItem, type AttentionKind, type Overview } from './operatorApi';

const KIND_WORDS: Record<AttentionKind, string> = {
  settlement_failed: 'Campaign with failed settlements',
  pledge_dropped: 'Dropped pledge',
  order_stuck: 'Order stuck in checkout',
  order_failed: 'Order cancelled by the system',
  drop_stuck: 'Drop behind schedule',
  payout_failed: 'Failed payout',
  billing_differences: 'Billing reconciliation differences',
  reconciliation_repair: 'Reconciliation repair',
};

/** Where the item lives in this app, when it has a page an operator may open. */
function appLink(item: AttentionItem): string | undefined {
  if (item.kind === 'settlement_failed') return `/creator/campaigns/${item.id}`;
  if (item.kind === 'order_stuck' || item.kind === 'order_failed') return `/orders/${item.id}`;
  if (item.kind === 'drop_stuck') return `/drops/${item.id}`;
  return undefined;
}

/** Everything the domains say is stuck or failed, newest first, each linked to its workflow in the Temporal UI. */
export function AttentionList({ overview }: { overview: Overview }) {
  const [kind, setKind] = useState<AttentionKind | ''>('');
  const items = useAttention(kind || undefined);
  const options = [
    { value: '', label: 'Everything' },
    ...(Object.keys(KIND_WORDS) as AttentionKind[]).map((k) => ({ value: k, label: `${KIND_WORDS[k]} (${overview.attention[k]})` })),
  ];
  return (
    <section className="panel" aria-labelledby="attention-title">
      <h2 id="attention-title">Needs attention</h2>
      <SelectField label="Show" value={kind} onChange={(v) => setKind(v as AttentionKind | '')} options={options} />
      <QueryView query={items} what="what needs attention" empty="Nothing needs attention.">
        {(data) => (
          <ul className="lines">
            {data.data.map((i) => {
              const link = appLink(i);
              return (
                <li key={`${i.kind}-${i.id}`} className="line">
                  <div>
                    <strong>{KIND_WORDS[i.kind]}</strong>: {link ? <Link to={link}>{i.title}</Link> : i.title}
                    <p className="meta">
                      {words(i.detail)}
                      {i.amount_cents !== null && i.currency && <> · {money(i.amount_cents, i.currency)}</>} · <time dateTime={i.at}>{dateTime(i.at)}</time>
                    </p>
                    <p className="meta">
                      <a href={temporalWorkflowUrl(overview.temporal, i.workflow_id)}>
                        <span className="visually-hidden">Workflow </span>
                        {i.workflow_id}
                      </a>{' '}
                      in Temporal
                    </p>
                  </div>
                </li>
              );
            })}
          </ul>
        )}
      </QueryView>
    </section>
  );
}
