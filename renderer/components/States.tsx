import type { ReactNode } from 'react';

export function ErrorNote({ error, what }: { error: Error; what: string }) {
  return (
    <div className="note error" role="alert">
      <strong>Could not load {what}.</strong> {error.message}
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
