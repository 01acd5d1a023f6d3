import { money } from '../lib/format';

/** Funding progress: a real progressbar for assistive tech, in money terms for everyone. */
export function ProgressBar({ pledged, goal, currency, label }: { pledged: number; goal: number; currency: string; label: string }) {
  const percent = goal > 0 ? Math.floor((pledged / goal) * 100) : 0;
  return (
    <div className="progress">
      <div
        className="bar"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={goal}
        aria-valuenow={pledged}
        aria-valuetext={`${money(pledged, currency)} of ${money(goal, currency)} (${percent}%)`}
      >
        <span style={{ width: `${Math.min(percent, 100)}%` }} />
      </div>
      <p className="progress-text">
        <strong>{money(pledged, currency)}</strong> of {money(goal, currency)} · {percent}%
      </p>
    </div>
  );
}
