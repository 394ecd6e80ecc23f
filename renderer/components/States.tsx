import type { ReactNode } from 'react';
import { isApiError } from '../api';

/** True when the UI runs in a plain browser (HTTP), where the browser's own dialog does the login. */
function overHttp(): boolean {
  return document.documentElement.dataset.transport === 'http';
}

/** What to tell someone who is not logged in (the browser asks for the password itself). */
export function LoginHint() {
  return overHttp() ? (
    <>
      Log in to continue: <button type="button" className="link-btn" onClick={() => window.location.reload()}>reload the page</button> and enter your
      Lanyard user name and password when the browser asks.
    </>
  ) : (
    <>Log in to continue.</>
  );
}

/** An error's code (from the API) and message, e.g. `DENIED  only an admin may do this`. */
export function ErrorText({ error }: { error: Error }) {
  return (
    <>
      {isApiError(error) && <code className="err-badge">{error.code}</code>}
      <span className="err-msg">{error.message}</span>
    </>
  );
}

export function ErrorNote({ error, what }: { error: Error; what: string }) {
  if (isApiError(error, 'UNAUTHORIZED')) {
    return (
      <div className="note warn" role="alert">
        <strong>Not logged in.</strong> <LoginHint />
      </div>
    );
  }
  return (
    <div className="note error" role="alert">
      <strong>Could not load {what}.</strong> <ErrorText error={error} />
    </div>
  );
}

/** A failed action, shown right where it happened (a form, a table row). */
export function InlineError({ error, onDismiss }: { error: Error; onDismiss?: () => void }) {
  return (
    <div className="inline-error" role="alert">
      {isApiError(error, 'UNAUTHORIZED') ? <LoginHint /> : <ErrorText error={error} />}
      {onDismiss && (
        <button type="button" className="dismiss" aria-label="Dismiss" title="Dismiss" onClick={onDismiss}>
          ×
        </button>
      )}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <div className="empty-title">{title}</div>
      {children}
    </div>
  );
}

export function Spinner({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="spinner" role="status">
      <span className="spinner-dot" />
      {label}
    </div>
  );
}
