import type { ReactNode } from 'react';
import { toProblem } from '../lib/problem';

export function Loading({ what }: { what: string }) {
  return (
    <p className="state" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state empty">{children}</p>;
}

/** A problem from the API in words: its title and detail, and a retry when the caller offers one. */
export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  const p = toProblem(error);
  return (
    <div className="error" role="alert">
      <strong>{p.title}</strong>
      {p.detail && <span> {p.detail}</span>}
      {p.fields.length > 0 && (
        <ul>
          {p.fields.map((f) => (
            <li key={f.path}>
              {f.path}: {f.message}
            </li>
          ))}
        </ul>
      )}
      {retry && (
        <button type="button" className="link" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}
