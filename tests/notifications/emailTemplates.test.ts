import { classify } from '../../src/notifications/email/categories';
import { formatMoney } from '../../src/notifications/email/format';
import { accountMessage, notificationMessage, render } from '../../src/notifications/email/templates';
import type { NotificationJson } from '../../src/notifications/push';

/** Email bodies: exact money from minor units, every kind that exists renders in text and HTML alike. */
describe('money in emails', () => {
  it('formats integer minor units with the currency\'s own decimals', () => {
    expect(formatMoney(123456, 'USD')).toBe('$1,234.56');
    expect(formatMoney(5, 'usd')).toBe('$0.05');
    expect(formatMoney(-2500, 'EUR')).toBe('-€25.00');
    expect(formatMoney(1500, 'JPY')).toBe('¥1,500');
    expect(formatMoney(1234, 'KWD').replace(/\s/g, ' ')).toBe('KWD 1.234'); // Intl puts a no-break space after the code
    // Beyond 2^53 / 100 a float division would round; the decimal string keeps every digit.
    expect(formatMoney(900719925474099, 'USD')).toBe('$9,007,199,254,740.99');
  });
});

const KINDS: [string, Record<string, unknown>][] = [
  ['pledge_received', { campaign_id: 'c1', amount_cents: 2500, currency: 'GBP' }],
  ['campaign_succeeded', { campaign_id: 'c1' }],
  ['campaign_failed', { campaign_id: 'c1' }],
  ['campaign_cancelled', { campaign_id: 'c1' }],
  ['payment_failed', { pledge_id: 'p1', drop_deadline: '2026-12-10T12:00:00.000Z' }],
  ['payment_reminder', { pledge_id: 'p1', drop_deadline: '2026-12-10T12:00:00.000Z', reminder: 1 }],
  ['pledge_dropped', { campaign_id: 'c1' }],
  ['drop_won', { drop_id: 'd1', claim_expires_at: '2026-12-10T12:00:00.000Z' }],
  ['drop_promoted', { drop_id: 'd1', claim_expires_at: '2026-12-10T12:00:00.000Z' }],
  ['drop_waitlisted', { drop_id: 'd1', rank: 4 }],
  ['drop_expired', { drop_id: 'd1' }],
  ['drop_lost', { drop_id: 'd1' }],
  ['drop_admitted', { drop_id: 'd1', admitted_until: '2026-12-10T12:00:00.000Z' }],
  ['drop_sold_out', { drop_id: 'd1' }],
  ['drop_closed', { drop_id: 'd1' }],
  ['order_confirmed', { order_id: 'o1', total_cents: 4999, currency: 'USD', status: 'paid' }],
  ...['booking_confirmed', 'booking_reminder', 'booking_rescheduled', 'booking_hold_expired', 'booking_completed', 'booking_feedback_requested'].map(
    (type): [string, Record<string, unknown>] => [type, { booking_id: 'b1', service_title: 'Bike repair', start: '2026-12-10T12:00:00.000Z', time_zone: 'Europe/Berlin', price_cents: 5000, currency: 'EUR' }],
  ),
  ['booking_cancelled', { booking_id: 'b1', start: '2026-12-10T12:00:00.000Z', time_zone: 'Europe/Berlin', price_cents: 5000, refund_cents: 2500, fee_cents: 2500, currency: 'EUR' }],
  ['provider_approved', { provider_id: 'p1' }],
  ['provider_onboarding_reminder', { provider_id: 'p1' }],
];

const notification = (type: string, data: Record<string, unknown>): NotificationJson => ({
  id: 'n1',
  type,
  title: `Title of ${type} <b>`,
  body: `Body of ${type} & more`,
  data,
  created_at: '2026-12-03T00:00:00.000Z',
  read_at: null,
});

describe('every notification kind', () => {
  it.each(KINDS)('%s renders a subject, a text and an HTML body that agree, with an action link', (type, data) => {
    const m = notificationMessage(notification(type, data), 'https://app.example.test');
    const cls = classify(type);
    const unsubscribe = cls.essential ? undefined : { url: 'https://api.example.test/u?token=t', category: cls.category };
    const { subject, text, html } = render(m, { appUrl: 'https://app.example.test', recipientName: 'Ada', unsubscribe });
    expect(subject).toBe(`Title of ${type} <b>`);
    expect(text).toMatch(/^Hi Ada,\n/);
    expect(m.action?.url).toMatch(/^https:\/\/app\.example\.test\/((campaigns|pledges|drops|orders|bookings)\/[a-z0-9]+|provider)$/);
    expect(text).toContain(`${m.action!.label}: ${m.action!.url}`);
    expect(html).toContain(`href="${m.action!.url}"`);
    for (const p of m.paragraphs) expect(text).toContain(p);
    // Everything from the data is escaped in HTML.
    expect(html).toContain('Title of');
    expect(html).not.toContain('<b>');
    expect(text.includes('Unsubscribe from')).toBe(!cls.essential);
    expect(html.includes('https://api.example.test/u?token=t')).toBe(!cls.essential);
  });

  it('says money and times in words people read', () => {
    const pledge = render(notificationMessage(notification('pledge_received', { amount_cents: 2500, currency: 'GBP' }), 'https://a'), { appUrl: 'https://a' });
    expect(pledge.text).toContain('A backer pledged £25.00 to your campaign.');
    const order = render(notificationMessage(notification('order_confirmed', { order_id: 'o1', total_cents: 4999, currency: 'USD' }), 'https://a'), { appUrl: 'https://a' });
    expect(order.text).toContain('Total: $49.99');
    const reminder = render(notificationMessage(notification('payment_reminder', { pledge_id: 'p', drop_deadline: '2026-12-10T12:00:00.000Z' }), 'https://a'), { appUrl: 'https://a' });
    expect(reminder.text).toContain('Update before: Thursday, 10 December 2026 at 12:00 UTC');
    // A booking reads in the provider's zone, where it happens; a cancellation says what came back and what was kept.
    const cancelled = render(
      notificationMessage(notification('booking_cancelled', { booking_id: 'b', start: '2026-12-10T12:00:00.000Z', time_zone: 'Europe/Berlin', refund_cents: 2500, fee_cents: 2500, currency: 'EUR' }), 'https://a'),
      { appUrl: 'https://a' },
    );
    expect(cancelled.text).toContain('When: Thursday, 10 December 2026 at 13:00 (Europe/Berlin)');
    expect(cancelled.text).toContain('Refunded: €25.00');
    expect(cancelled.text).toContain('Fee: €25.00');
  });

  it('classes account, payment and order mail as essential and the rest by category', () => {
    for (const kind of ['verify_email', 'password_reset', 'password_changed', 'payment_failed', 'payment_reminder', 'pledge_dropped', 'order_confirmed', 'order_shipped']) {
      expect(classify(kind)).toEqual({ essential: true });
    }
    expect(classify('pledge_received')).toEqual({ essential: false, category: 'pledge_activity' });
    expect(classify('campaign_succeeded')).toEqual({ essential: false, category: 'campaign_updates' });
    expect(classify('drop_admitted')).toEqual({ essential: false, category: 'drops' });
    for (const kind of ['booking_confirmed', 'booking_reminder', 'booking_cancelled', 'booking_rescheduled', 'provider_approved']) expect(classify(kind)).toEqual({ essential: true });
    expect(classify('booking_feedback_requested')).toEqual({ essential: false, category: 'other' });
    expect(classify('something_new')).toEqual({ essential: false, category: 'other' });
  });

  it.each(['verify_email', 'password_reset', 'password_changed'] as const)('account mail %s renders with its link', (kind) => {
    const m = accountMessage({ kind, link: 'https://app.example.test/x?token=abc', expires_at: '2026-12-04T10:00:00.000Z' });
    const { text, html } = render(m, { appUrl: 'https://app.example.test' });
    expect(text).toContain(`${m.action!.label}: https://app.example.test/x?token=abc`);
    expect(html).toContain('href="https://app.example.test/x?token=abc"');
    expect(text.includes('Link expires: Friday, 4 December 2026 at 10:00 UTC')).toBe(kind !== 'password_changed');
  });
});
