import { useEffect, useRef, useState } from 'react';
import type { InitialAdmin } from '../../registry/api/contract';
import { CodeLine, CopyButton } from './CopyButton';
import { Logo } from './Logo';

/**
 * The first admin's generated password, right after Lanyard created it (desktop app, first
 * start with access control). The registry hands it out once and keeps only a bcrypt hash,
 * so this dialog is the only place it is ever shown. Escape does not close it by accident.
 */
export function InitialAdminModal({ admin, host, onClose }: { admin: InitialAdmin; host: string; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const done = useRef<HTMLButtonElement>(null);
  const [shown, setShown] = useState(true);

  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    done.current?.focus(); // showModal focuses the first button; the way out is the one to offer
    return () => d?.close();
  }, []);

  return (
    <dialog
      ref={ref}
      className="modal"
      aria-labelledby="initial-admin-title"
      onCancel={(e) => e.preventDefault()}
      data-testid="initial-admin"
    >
      <div className="modal-body">
        <div className="modal-icon" aria-hidden="true">
          <Logo size={30} />
        </div>
        <h2 id="initial-admin-title">Lanyard created the admin user</h2>
        <p className="muted">
          The registry now asks who is pushing and pulling. Use this account to log in from Docker and to manage users; add more users under
          Users.
        </p>
        <dl className="credentials">
          <dt>User name</dt>
          <dd>
            <code className="cred-value" data-testid="initial-admin-name">
              {admin.name}
            </code>
            <CopyButton text={admin.name} title="Copy the user name" />
          </dd>
          <dt>Password</dt>
          <dd>
            <code className="cred-value" data-testid="initial-admin-password">
              {shown ? admin.password : '•'.repeat(Math.min(admin.password.length, 24))}
            </code>
            <button type="button" className="btn" onClick={() => setShown(!shown)} aria-pressed={!shown}>
              {shown ? 'Hide' : 'Show'}
            </button>
            <CopyButton text={admin.password} title="Copy the password" />
          </dd>
        </dl>
        <div className="field">
          <span className="field-label">Log in from Docker on this or another machine</span>
          <CodeLine prompt text={`docker login ${host || '<registry address>'}`} />
        </div>
        <div className="note warn once-note" role="note">
          <strong>Shown only once.</strong> Lanyard stores only a hash of this password and cannot show it again. Save it in your password
          manager now; you can set a new one later under Users.
        </div>
        <div className="modal-actions">
          <button ref={done} type="button" className="btn primary" onClick={onClose}>
            I have saved the password
          </button>
        </div>
      </div>
    </dialog>
  );
}
