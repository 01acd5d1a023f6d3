import { toProblem } from '../../lib/problem';

/**
 * The booking path's refusals in words that say what happened and what to do next; anything else keeps the
 * API's own title and detail.
 */
export function bookingProblemText(error: unknown): { title: string; detail: string } {
  const p = toProblem(error);
  switch (p.code) {
    case 'payment_declined':
      return { title: 'Your card was declined.', detail: `${p.detail ? `${p.detail} ` : ''}The slot stays held for you until the hold ends: try another card.` };
    case 'requires_action':
      return { title: 'This card needs the bank’s confirmation (3-D Secure).', detail: 'The test cards cannot confirm here: try another card while the slot is held.' };
    case 'slot_unavailable':
      return { title: 'That slot is no longer free.', detail: 'Someone else took it, or the provider changed their hours. Pick another slot.' };
    case 'quote_expired':
      return { title: 'The quoted price expired.', detail: 'Prices are locked for a few minutes only. Get a new quote for the slot.' };
    case 'hold_expired':
      return { title: 'Your hold on the slot ended.', detail: 'The slot was released and nothing was charged. Pick the slot again to hold it anew.' };
    case 'too_many_holds':
      return { title: 'You are holding too many slots.', detail: 'Book or let go of a held slot first (holds end on their own after a few minutes).' };
    default:
      return { title: p.title, detail: p.detail };
  }
}

export function BookingProblem({ error }: { error: unknown }) {
  const { title, detail } = bookingProblemText(error);
  return (
    <div className="error" role="alert">
      <strong>{title}</strong>
      {detail && <span> {detail}</span>}
    </div>
  );
}
