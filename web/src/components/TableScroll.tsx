import type { ReactNode } from 'react';

/**
 * A table that may scroll sideways at phone width: the scrolling box is a named, focusable region, so keyboard
 * users can scroll it too (axe: scrollable-region-focusable).
 */
export function TableScroll({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}
