import type { Session } from '../../registry/api/contract';
import { isApiError, type ApiClient } from '../api';
import type { Loaded } from '../hooks';

/** Who is using the UI, and with what role: the right end of the top bar. */
export function SessionBadge({ session, transport }: { session: Loaded<Session>; transport: ApiClient['transport'] }) {
  const s = session.data;
  if (!s) {
    if (isApiError(session.error, 'UNAUTHORIZED')) {
      return (
        <div className="session" data-testid="session">
          <span className="avatar anon" aria-hidden="true">?</span>
          <span className="session-name">Not logged in</span>
          {transport === 'http' && (
            <a className="btn" href="/lanyard/login" title="The browser asks for your user name and password">
              Log in
            </a>
          )}
        </div>
      );
    }
    return null;
  }

  let name: string;
  let role: string;
  let title: string;
  if (s.user) {
    name = s.user;
    role = s.role ?? 'user';
    title = `Logged in as ${s.user} (${role})`;
  } else if (transport === 'ipc') {
    name = 'This computer';
    role = 'owner';
    title = 'The desktop app may do everything, users included';
  } else if (!s.authEnabled) {
    name = 'Open access';
    role = 'no users';
    title = 'This registry runs without users: anyone who reaches it can push and pull';
  } else {
    name = 'Anonymous';
    role = s.anonymousPull ? 'pull' : 'no access';
    title = s.anonymousPull ? 'Not logged in: anonymous pull is allowed' : 'Not logged in';
  }
  return (
    <div className="session" data-testid="session" title={title}>
      <span className={`avatar${s.user ? '' : ' anon'}`} aria-hidden="true">
        {s.user ? s.user.slice(0, 1).toUpperCase() : '·'}
      </span>
      <span className="session-name">{name}</span>
      <span className={`role-pill role-${role.replace(/\s+/g, '-')}`}>{role}</span>
      {transport === 'http' && s.authEnabled && !s.user && (
        <a className="btn" href="/lanyard/login" title="The browser asks for your user name and password">
          Log in
        </a>
      )}
    </div>
  );
}
