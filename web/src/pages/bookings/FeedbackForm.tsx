import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { ErrorBox } from '../../components/states';
import { toProblem, unwrap } from '../../lib/problem';

/** Rate a completed booking once: 1-5 and an optional comment (a second time is answered 409 and said so). */
export function FeedbackForm({ bookingId, providerId }: { bookingId: string; providerId: string }) {
  const queries = useQueryClient();
  const [rating, setRating] = useState(0);
  const [comment, setComment] = useState('');
  const give = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/feedback', { body: { booking_id: bookingId, rating, ...(comment.trim() ? { comment: comment.trim() } : {}) } })),
    onSuccess: () => {
      // The provider's average and count changed with it.
      void queries.invalidateQueries({ queryKey: ['provider-reviews', providerId] });
      void queries.invalidateQueries({ queryKey: ['provider', providerId] });
    },
  });
  if (give.isSuccess || (give.isError && toProblem(give.error).code === 'feedback_exists')) {
    return (
      <p className="success" role="status">
        {give.isSuccess ? 'Thank you for your feedback.' : 'You already rated this booking.'}
      </p>
    );
  }
  const submit = (e: FormEvent) => {
    e.preventDefault();
    give.mutate();
  };
  return (
    <section className="panel" aria-labelledby="feedback">
      <h2 id="feedback">How was it?</h2>
      <form onSubmit={submit}>
        <fieldset>
          <legend>Rating</legend>
          {[1, 2, 3, 4, 5].map((n) => (
            <label key={n} className="choice">
              <input type="radio" name="rating" value={n} checked={rating === n} onChange={() => setRating(n)} /> {n} of 5
            </label>
          ))}
        </fieldset>
        <div className="field">
          <label htmlFor="feedback-comment">Comment (optional)</label>
          <textarea id="feedback-comment" value={comment} maxLength={5000} onChange={(e) => setComment(e.target.value)} />
        </div>
        <button type="submit" disabled={rating === 0 || give.isPending}>
          Send feedback
        </button>
        {give.isError && <ErrorBox error={give.error} />}
      </form>
    </section>
  );
}
