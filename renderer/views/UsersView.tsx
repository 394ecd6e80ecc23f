import { useId, useState, type FormEvent } from 'react';
import type { RepoRole, Session, UserRole, UserSummary } from '../../registry/api/contract';
import { useApi } from '../api';
import { CodeLine, CopyButton } from '../components/CopyButton';
import { PasswordField } from '../components/PasswordField';
import { Empty, ErrorNote, InlineError, Spinner } from '../components/States';
import { useAction, useLoad } from '../hooks';

const ROLES: readonly UserRole[] = ['pull', 'push', 'admin'];
const RULE_ROLES: readonly RepoRole[] = ['pull', 'push', 'admin', 'none'];
const ROLE_MEANING: Record<RepoRole, string> = {
  pull: 'download images',
  push: 'download and upload images',
  admin: 'everything, users and settings included',
  none: 'matching repositories are hidden',
};

export function UsersView({ session, onSessionChange, host }: { session: Session; onSessionChange: () => void; host: string }) {
  const api = useApi();
  const users = useLoad(() => api.listUsers(), 'users', 15_000);
  const list = users.data;

  return (
    <div className="page users-page">
      <div className="toolbar">
        <div>
          <h2>
            Users {list && <span className="count">{list.length}</span>}
          </h2>
          <p className="muted small">Who may log in, and what they may do. Repository rules override the role on matching repositories.</p>
        </div>
        <div className="toolbar-actions">
          <AnonymousPullSwitch session={session} onChange={onSessionChange} />
        </div>
      </div>

      {!session.authEnabled && (
        <div className="note info" role="note">
          <strong>Access control is off.</strong> Anyone who reaches the registry can push and pull right now; these users and rules apply once it
          runs with authentication.
        </div>
      )}

      <AddUserForm host={host} existing={list?.map((u) => u.name) ?? []} onAdded={users.reload} />

      <div className="card table-card users-card">
        {users.error && <ErrorNote error={users.error} what="the users" />}
        {!list && !users.error && <Spinner label="Loading users…" />}
        {list?.length === 0 && <Empty title="No users yet">Add the first one above.</Empty>}
        {list && list.length > 0 && (
          <table className="grid users-table" aria-label="Users">
            <thead>
              <tr>
                <th>User</th>
                <th>Role</th>
                <th>Repository rules</th>
                <th className="actions-head">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((u) => (
                <UserRow key={u.name} user={u} isMe={u.name === session.user} onChanged={u.name === session.user ? () => (users.reload(), onSessionChange()) : users.reload} />
              ))}
            </tbody>
          </table>
        )}
      </div>
      <dl className="legend small">
        {RULE_ROLES.map((r) => (
          <div key={r}>
            <dt>
              <span className={`role-pill role-${r}`}>{r}</span>
            </dt>
            <dd className="muted">{ROLE_MEANING[r]}</dd>
          </div>
        ))}
      </dl>
    </div>
  );
}

// ------------------------------------------------------------------ anonymous pull

function AnonymousPullSwitch({ session, onChange }: { session: Session; onChange: () => void }) {
  const api = useApi();
  const act = useAction();
  // the answer of our own change wins until the session reloads with it
  const [value, setValue] = useState<boolean | null>(null);
  const on = value ?? session.anonymousPull;
  return (
    <div className="switch-wrap">
      <label className="switch-label" title="Pull without logging in (docker pull needs no docker login)">
        <input
          type="checkbox"
          role="switch"
          className="switch"
          checked={on}
          disabled={act.busy}
          onChange={(e) => {
            const enabled = e.target.checked;
            setValue(enabled); // flip at once; the registry's answer (or the old value on failure) follows
            act
              .run(async () => {
                const s = await api.setAnonymousPull(enabled);
                setValue(s.anonymousPull);
                onChange();
              })
              .then((ok) => {
                if (!ok) setValue(!enabled);
              });
          }}
        />
        <span>
          <span className="switch-title">Anonymous pull</span>
          <span className="switch-sub">{on ? 'Anyone on the network may pull' : 'Pulling needs a login'}</span>
        </span>
      </label>
      {act.error && <InlineError error={act.error} onDismiss={act.clear} />}
    </div>
  );
}

// ------------------------------------------------------------------ add a user

function AddUserForm({ host, existing, onAdded }: { host: string; existing: string[]; onAdded: () => void }) {
  const api = useApi();
  const act = useAction();
  const nameId = useId();
  const roleId = useId();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<UserRole>('push');
  const [added, setAdded] = useState<{ name: string; password: string; role: UserRole } | null>(null);
  const taken = existing.includes(name.trim());

  async function submit(e: FormEvent) {
    e.preventDefault();
    const n = name.trim();
    const ok = await act.run(() => api.addUser(n, password, role));
    if (!ok) return;
    setAdded({ name: n, password, role });
    setName('');
    setPassword('');
    onAdded();
  }

  return (
    <form className="card add-user" aria-label="Add a user" onSubmit={submit}>
      <div className="card-head">
        <h3>Add a user</h3>
      </div>
      <div className="form-row">
        <div className="field name-field">
          <label htmlFor={nameId}>Name</label>
          <input
            id={nameId}
            className="input"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="e.g. ci or alice"
            autoComplete="off"
            spellCheck={false}
            autoCapitalize="off"
            maxLength={64}
            required
            aria-invalid={taken || undefined}
          />
        </div>
        <PasswordField label="Password" value={password} onChange={setPassword} />
        <div className="field role-field">
          <label htmlFor={roleId}>Role</label>
          <select id={roleId} className="select" value={role} onChange={(e) => setRole(e.target.value as UserRole)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </div>
        <div className="field submit-field">
          <button type="submit" className="btn primary" disabled={act.busy || taken}>
            {act.busy ? 'Adding…' : 'Add user'}
          </button>
        </div>
      </div>
      {taken && <p className="field-hint warn-text">A user named “{name.trim()}” exists already.</p>}
      {act.error && (
        <div className="form-msg">
          <InlineError error={act.error} onDismiss={act.clear} />
        </div>
      )}
      {added && (
        <div className="note ok added-note" role="status">
          <div className="added-head">
            <span>
              Added <strong>{added.name}</strong> with role <span className={`role-pill role-${added.role}`}>{added.role}</span>. Hand them their
              password now: it is not shown again.
            </span>
            <span className="added-actions">
              <CopyButton text={added.password} label="Copy password" title="Copy the new user's password" />
              <button type="button" className="dismiss" aria-label="Dismiss" title="Dismiss" onClick={() => setAdded(null)}>
                ×
              </button>
            </span>
          </div>
          <CodeLine prompt text={`docker login -u ${added.name} ${host}`} />
        </div>
      )}
    </form>
  );
}

// ------------------------------------------------------------------ one user

function UserRow({ user, isMe, onChanged }: { user: UserSummary; isMe: boolean; onChanged: () => void }) {
  const api = useApi();
  const act = useAction();
  const [mode, setMode] = useState<'none' | 'password' | 'remove' | 'rule'>('none');
  const [password, setPassword] = useState('');
  const [pattern, setPattern] = useState('');
  const [ruleRole, setRuleRole] = useState<RepoRole>('push');
  const [done, setDone] = useState<string | null>(null);
  const rules = Object.entries(user.repos).sort(([a], [b]) => a.localeCompare(b));
  const panel = mode === 'password' || mode === 'remove' || act.error !== null || done !== null;

  const run = (fn: () => Promise<unknown>, after?: () => void) => {
    setDone(null);
    act.run(fn).then((ok) => {
      if (!ok) return;
      after?.();
      onChanged();
    });
  };

  function addRule(e: FormEvent) {
    e.preventDefault();
    const p = pattern.trim();
    run(
      () => api.setRepoRule(user.name, p, ruleRole),
      () => {
        setPattern('');
        setMode('none');
      },
    );
  }

  function savePassword(e: FormEvent) {
    e.preventDefault();
    run(
      () => api.setPassword(user.name, password),
      () => {
        setPassword('');
        setMode('none');
        setDone(`New password saved for ${user.name}. Their old password and logins stop working now.`);
      },
    );
  }

  return (
    <>
      <tr className={`user-row${panel ? ' expanded' : ''}`} data-user={user.name}>
        <td className="user-cell">
          <span className="user-id">
            <span className="avatar small" aria-hidden="true">
              {user.name.slice(0, 1).toUpperCase()}
            </span>
            <span className="user-name">{user.name}</span>
            {isMe && <span className="you">you</span>}
          </span>
        </td>
        <td>
          <select
            className="select compact"
            aria-label={`Role of ${user.name}`}
            value={user.role}
            disabled={act.busy}
            onChange={(e) => run(() => api.setRole(user.name, e.target.value as UserRole))}
          >
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </td>
        <td className="rules-cell">
          <ul className="rules" aria-label={`Repository rules of ${user.name}`}>
            {rules.map(([p, r]) => (
              <li key={p} className="rule">
                <code>{p}</code>
                <span className="arrow" aria-hidden="true">
                  →
                </span>
                <span className={`role-pill role-${r}`}>{r}</span>
                <button
                  type="button"
                  className="rule-x"
                  aria-label={`Remove rule ${p} of ${user.name}`}
                  title="Remove this rule"
                  disabled={act.busy}
                  onClick={() => run(() => api.setRepoRule(user.name, p, null))}
                >
                  ×
                </button>
              </li>
            ))}
            {rules.length === 0 && mode !== 'rule' && <li className="muted small no-rules">role applies everywhere</li>}
            {mode !== 'rule' && (
              <li>
                <button type="button" className="btn ghost" onClick={() => (setMode('rule'), act.clear())} aria-label={`Add a repository rule for ${user.name}`}>
                  + Rule
                </button>
              </li>
            )}
          </ul>
          {mode === 'rule' && (
            <form className="rule-form" onSubmit={addRule} aria-label={`New repository rule for ${user.name}`}>
              <input
                className="input compact mono-input"
                aria-label="Repository pattern"
                placeholder="team/*"
                value={pattern}
                onChange={(e) => setPattern(e.target.value)}
                spellCheck={false}
                autoCapitalize="off"
                maxLength={255}
                required
                autoFocus
              />
              <select className="select compact" aria-label="Role on matching repositories" value={ruleRole} onChange={(e) => setRuleRole(e.target.value as RepoRole)}>
                {RULE_ROLES.map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
              </select>
              <button type="submit" className="btn primary" disabled={act.busy}>
                Add rule
              </button>
              <button type="button" className="btn" onClick={() => (setMode('none'), setPattern(''), act.clear())}>
                Cancel
              </button>
            </form>
          )}
        </td>
        <td className="actions">
          <button
            type="button"
            className={`btn${mode === 'password' ? ' pressed' : ''}`}
            onClick={() => (setMode(mode === 'password' ? 'none' : 'password'), setPassword(''), setDone(null), act.clear())}
          >
            Change password
          </button>
          <button type="button" className="btn danger" onClick={() => (setMode('remove'), setDone(null), act.clear())} aria-label={`Remove ${user.name}`}>
            Remove
          </button>
        </td>
      </tr>
      {panel && (
        <tr className="user-extra" data-user-extra={user.name}>
          <td colSpan={4}>
            {mode === 'password' && (
              <form className="inline-form" onSubmit={savePassword} aria-label={`Change the password of ${user.name}`}>
                <PasswordField label={`New password for ${user.name}`} value={password} onChange={setPassword} autoFocus />
                <div className="inline-form-actions">
                  <button type="submit" className="btn primary" disabled={act.busy}>
                    Save password
                  </button>
                  <button type="button" className="btn" onClick={() => (setMode('none'), setPassword(''), act.clear())}>
                    Cancel
                  </button>
                </div>
              </form>
            )}
            {mode === 'remove' && (
              <div className="confirm" role="alertdialog" aria-label={`Remove ${user.name}?`}>
                <span>
                  Remove <strong>{user.name}</strong>
                  {isMe ? ' (that is you: you will be logged out)' : ''}? They can no longer log in, push or pull. Their images stay.
                </span>
                <span className="confirm-actions">
                  <button type="button" className="btn danger solid" disabled={act.busy} onClick={() => run(() => api.removeUser(user.name), () => setMode('none'))}>
                    Remove {user.name}
                  </button>
                  <button type="button" className="btn" onClick={() => (setMode('none'), act.clear())}>
                    Cancel
                  </button>
                </span>
              </div>
            )}
            {act.error && <InlineError error={act.error} onDismiss={act.clear} />}
            {done && (
              <div className="inline-ok" role="status">
                {done}
                <button type="button" className="dismiss" aria-label="Dismiss" title="Dismiss" onClick={() => setDone(null)}>
                  ×
                </button>
              </div>
            )}
          </td>
        </tr>
      )}
    </>
  );
}
