/** A form's submit button (disabled and saying so while it runs), then the live region that says how it went. */
export function SubmitAndSay({ busy, label, busyLabel, said }: { busy: boolean; label: string; busyLabel: string; said: string }) {
  return (
    <>
      <button type="submit" disabled={busy}>
        {busy ? busyLabel : label}
      </button>
      <p role="status" aria-live="polite">
        {said}
      </p>
    </>
  );
}
