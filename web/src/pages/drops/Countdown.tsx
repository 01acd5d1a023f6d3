import { useEffect, useState } from 'react';

/** Whole seconds until `iso`, recounted every second; 0 once passed. */
export function useSecondsUntil(iso: string | undefined): number {
  const left = () => (iso ? Math.max(0, Math.ceil((Date.parse(iso) - Date.now()) / 1000)) : 0);
  const [seconds, setSeconds] = useState(left);
  useEffect(() => {
    setSeconds(left());
    const timer = setInterval(() => setSeconds(left()), 1_000);
    return () => clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [iso]);
  return seconds;
}

/** "1:02:05" / "4:09": a clock for the visible countdown. */
export function clock(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

/**
 * A live countdown. The ticking clock is not announced (a screen reader would read it every second); with
 * `endedText`, a polite live region says once when the time is up (without, the caller announces the end).
 */
export function Countdown({ until, label, endedText }: { until: string; label: string; endedText?: string }) {
  const seconds = useSecondsUntil(until);
  return (
    <div className="countdown">
      <p>
        {label}: <strong>{clock(seconds)}</strong>
      </p>
      {endedText !== undefined && (
        <p role="status" aria-live="polite">
          {seconds === 0 ? endedText : ''}
        </p>
      )}
    </div>
  );
}
