import type { AccountEmailPayload } from '../accountEmail';
import type { NotificationJson } from '../push';
import type { EmailCategory } from './categories';
import { escapeHtml, formatInstant, formatLocalInstant, formatMoney } from './format';

/**
 * The plain-text and HTML body of every email, built from one description per kind (paragraphs, an action
 * button, a few facts) so the two versions always say the same thing. Money is formatted from the integer
 * minor units and currency in the notification's data, times in UTC.
 */
export interface EmailContent {
  subject: string;
  text: string;
  html: string;
}

export interface RenderContext {
  /** The web app, for action links. */
  appUrl: string;
  recipientName?: string;
  /** Non-essential mail: the category's unsubscribe link (shown in the footer). */
  unsubscribe?: { url: string; category: EmailCategory };
}

interface Message {
  subject: string;
  paragraphs: string[];
  action?: { label: string; url: string };
  facts?: [string, string][];
}

const CATEGORY_LABEL: Record<EmailCategory, string> = {
  campaign_updates: 'campaign updates',
  pledge_activity: 'new-pledge emails',
  drops: 'drop results and waiting-room emails',
  other: 'other Pledgeflow updates',
};

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : undefined);
const link = (base: string, ...parts: (string | undefined)[]) => (parts.every(Boolean) ? `${base.replace(/\/$/, '')}/${parts.map((p) => encodeURIComponent(p!)).join('/')}` : undefined);
const action = (label: string, url: string | undefined) => (url ? { action: { label, url } } : {});
const fact = (label: string, value: string | undefined): [string, string][] => (value ? [[label, value]] : []);

function money(data: Record<string, unknown>, amountKey: string): string | undefined {
  const amount = int(data[amountKey]);
  const currency = str(data.currency);
  return amount !== undefined && currency ? formatMoney(amount, currency) : undefined;
}

/**
 * A notification caused by a charge carries its receipt (`invoice_id`, `invoice_number`): the email names the
 * receipt and links its PDF (`/v1/invoices/{id}/pdf` on the API; the lane also attaches it).
 */
function withReceipt(m: Message, d: Record<string, unknown>, apiUrl: string | undefined): Message {
  const number = str(d.invoice_number);
  const id = str(d.invoice_id);
  if (!number || !id) return m;
  const pdf = apiUrl ? `${link(apiUrl, 'v1', 'invoices', id)}/pdf` : undefined;
  return {
    ...m,
    paragraphs: [...m.paragraphs, pdf ? `Your receipt is ${number}: ${pdf}` : `Your receipt is ${number}.`],
    facts: [...(m.facts ?? []), ['Receipt', number]],
  };
}

/** What a notification of each kind says by email; unknown kinds say their title and body. */
export function notificationMessage(n: NotificationJson, appUrl: string, apiUrl?: string): Message {
  return withReceipt(kindMessage(n, appUrl), n.data ?? {}, apiUrl);
}

function kindMessage(n: NotificationJson, appUrl: string): Message {
  const d = n.data ?? {};
  const campaign = link(appUrl, 'campaigns', str(d.campaign_id));
  const drop = link(appUrl, 'drops', str(d.drop_id));
  const base: Message = { subject: n.title, paragraphs: n.body ? [n.body] : [] };
  switch (n.type) {
    case 'pledge_received': {
      const amount = money(d, 'amount_cents');
      return { ...base, paragraphs: [amount ? `A backer pledged ${amount} to your campaign.` : 'A backer pledged to your campaign.'], ...action('View your campaign', campaign) };
    }
    case 'campaign_succeeded':
    case 'campaign_failed':
    case 'campaign_cancelled':
    case 'pledge_dropped':
      return { ...base, ...action('View the campaign', campaign) };
    case 'pledge_collected':
      return { ...base, ...action('View the campaign', campaign), facts: fact('Charged', money(d, 'amount_cents')) };
    case 'payment_failed':
    case 'payment_reminder':
      return { ...base, ...action('Update your payment method', link(appUrl, 'pledges', str(d.pledge_id))), facts: fact('Update before', formatInstant(d.drop_deadline)) };
    case 'drop_won':
    case 'drop_promoted': {
      const until = formatInstant(d.claim_expires_at);
      return {
        ...base,
        paragraphs: [n.type === 'drop_won' ? 'Your entry was drawn.' : 'A winner did not claim in time, so a unit is yours.', until ? `Claim it before ${until}.` : 'Claim it soon.'],
        ...action('Claim your unit', drop),
        facts: fact('Claim before', until),
      };
    }
    case 'drop_admitted': {
      const until = formatInstant(d.admitted_until);
      return {
        ...base,
        paragraphs: [until ? `One unit is reserved for you until ${until}: check out before then.` : 'One unit is reserved for you: check out soon.'],
        ...action('Check out now', drop),
      };
    }
    case 'drop_waitlisted':
    case 'drop_expired':
    case 'drop_lost':
    case 'drop_sold_out':
    case 'drop_closed':
      return { ...base, ...action('View the drop', drop) };
    default: {
      if (n.type.startsWith('booking_')) return bookingMessage(n, base, appUrl);
      if (n.type.startsWith('provider_')) return { ...base, ...action('Open your provider page', link(appUrl, 'provider')) };
      if (n.type.startsWith('payout_')) {
        return { ...base, ...action('View your payouts', link(appUrl, 'payouts')), facts: [...fact('Amount', money(d, 'amount_cents')), ...fact('Reason', str(d.failure_code))] };
      }
      if (n.type.startsWith('order_')) {
        const total = money(d, 'total_cents') ?? money(d, 'amount_cents');
        const status = str(d.status);
        return {
          ...base,
          ...action('View your order', link(appUrl, 'orders', str(d.order_id))),
          facts: [...fact('Total', total), ...fact('Status', status)],
        };
      }
      return base;
    }
  }
}

/**
 * Booking mails carry `{booking_id, service_title?, start?, time_zone?, price_cents?, currency, refund_cents?,
 * fee_cents?}` in their data; the time reads in the provider's zone, where the service happens.
 */
function bookingMessage(n: NotificationJson, base: Message, appUrl: string): Message {
  const d = n.data ?? {};
  const when = formatLocalInstant(d.start, d.time_zone);
  const facts: [string, string][] = [
    ...fact('Service', str(d.service_title)),
    ...fact('When', when),
    ...fact('Price', money(d, 'price_cents')),
    ...fact('Refunded', money(d, 'refund_cents')),
    ...fact('Fee', money(d, 'fee_cents')),
  ];
  const bookingLink = link(appUrl, 'bookings', str(d.booking_id));
  if (n.type === 'booking_feedback_requested') return { ...base, ...action('Rate your booking', bookingLink), facts };
  return { ...base, ...action('View the booking', bookingLink), facts };
}

const ACCOUNT_TEXT: Record<AccountEmailPayload['account']['kind'], { subject: string; paragraphs: string[]; label: string; expires: boolean }> = {
  verify_email: {
    subject: 'Confirm your email address',
    paragraphs: ['Confirm that this address is yours to finish setting up your Pledgeflow account.', 'If you did not create an account, ignore this email.'],
    label: 'Confirm my address',
    expires: true,
  },
  password_reset: {
    subject: 'Reset your Pledgeflow password',
    paragraphs: ['Someone (we hope you) asked to reset the password of your Pledgeflow account. The link works once.', 'If it was not you, ignore this email: your password stays as it is.'],
    label: 'Choose a new password',
    expires: true,
  },
  password_changed: {
    subject: 'Your Pledgeflow password was changed',
    paragraphs: ['The password of your Pledgeflow account was just changed and every other session was signed out.', 'If this was not you, reset your password at once.'],
    label: 'Reset my password',
    expires: false,
  },
};

/** Verification, password reset and security notices. */
export function accountMessage(a: AccountEmailPayload['account']): Message {
  const t = ACCOUNT_TEXT[a.kind];
  const expires = t.expires ? formatInstant(a.expires_at) : undefined;
  return { subject: t.subject, paragraphs: t.paragraphs, ...action(t.label, a.link ?? undefined), facts: fact('Link expires', expires) };
}

export function render(m: Message, ctx: RenderContext): EmailContent {
  const greeting = ctx.recipientName ? `Hi ${ctx.recipientName},` : 'Hi,';
  const footer = ctx.unsubscribe
    ? `You receive ${CATEGORY_LABEL[ctx.unsubscribe.category]} because you use Pledgeflow.`
    : 'This is a service email about your account, your payments or your orders: it is sent whatever your email preferences.';

  const text = [
    greeting,
    '',
    ...m.paragraphs.flatMap((p) => [p, '']),
    ...(m.action ? [`${m.action.label}: ${m.action.url}`, ''] : []),
    ...(m.facts?.length ? [...m.facts.map(([k, v]) => `${k}: ${v}`), ''] : []),
    '-- ',
    'Pledgeflow',
    footer,
    ...(ctx.unsubscribe ? [`Unsubscribe from ${CATEGORY_LABEL[ctx.unsubscribe.category]}: ${ctx.unsubscribe.url}`] : []),
    '',
  ].join('\n');

  const e = escapeHtml;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${e(m.subject)}</title></head>
<body style="margin:0;padding:24px;background:#f4f4f5;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#18181b">
<div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;padding:32px">
<p>${e(greeting)}</p>
${m.paragraphs.map((p) => `<p>${e(p)}</p>`).join('\n')}
${m.action ? `<p style="margin:28px 0"><a href="${e(m.action.url)}" style="background:#4f46e5;color:#ffffff;padding:12px 20px;border-radius:6px;text-decoration:none;font-weight:600">${e(m.action.label)}</a></p>` : ''}
${m.facts?.length ? `<table role="presentation" style="border-collapse:collapse">${m.facts.map(([k, v]) => `<tr><td style="padding:4px 16px 4px 0;color:#71717a">${e(k)}</td><td style="padding:4px 0">${e(v)}</td></tr>`).join('')}</table>` : ''}
</div>
<p style="max-width:560px;margin:16px auto 0;font-size:12px;color:#71717a">${e(footer)}${ctx.unsubscribe ? ` <a href="${e(ctx.unsubscribe.url)}" style="color:#71717a">Unsubscribe from ${e(CATEGORY_LABEL[ctx.unsubscribe.category])}</a>.` : ''}</p>
</body></html>
`;
  return { subject: m.subject, text, html };
}
