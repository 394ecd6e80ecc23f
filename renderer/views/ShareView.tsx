import { Fragment, useState } from 'react';
import type { RegistryStatus, Session, TlsInfo, TrustOutcome, TrustTarget } from '../../registry/api/contract';
import { useApi, type ApiClient } from '../api';
import { CodeLine, CopyButton } from '../components/CopyButton';
import { ErrorNote, InlineError, Spinner } from '../components/States';
import { isLoopbackHost } from '../format';
import { useAction, useLoad } from '../hooks';

// The Share view: how other machines on the network come to trust this registry's HTTPS
// certificate (the CA's fingerprint, the pinned join command, the addresses to log in to),
// and — for admins and the desktop app — whether this machine trusts it itself.

const TLS_POLL_MS = 30_000;

/** A value for a POSIX shell (and PowerShell): bare when it is plainly safe, else single-quoted. */
function shellArg(v: string): string {
  return /^[A-Za-z0-9@%+=:,./_-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

/** "2029-02-24" from an RFC 3339 time. */
function isoDate(iso: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}`;
}

function daysUntil(iso: string): number | null {
  const t = new Date(iso).getTime();
  return Number.isNaN(t) ? null : Math.floor((t - Date.now()) / 86_400_000);
}

export function ShareView({ session, status }: { session?: Session; status?: RegistryStatus }) {
  const api = useApi();
  const tls = useLoad(() => api.getTls(), 'tls', TLS_POLL_MS);
  const t = tls.data;
  const host = status?.host ?? window.location.host;

  return (
    <div className="page share-page">
      <div className="toolbar">
        <div>
          <h2>Share</h2>
          <p className="muted small">Let the VMs and machines on your network pull from this registry, and push to it.</p>
        </div>
      </div>

      {tls.error && <ErrorNote error={tls.error} what="the HTTPS settings" />}
      {!t && !tls.error && <Spinner label="Loading the HTTPS settings…" />}
      {t && (t.https ? <HttpsCards tls={t} transport={api.transport} /> : <PlainHttpCard host={host} />)}
      {t && session?.isAdmin && <ThisMachineCard tls={t} transport={api.transport} dataDir={status?.dataDir} />}
    </div>
  );
}

// ------------------------------------------------------------------ plain HTTP

function PlainHttpCard({ host }: { host: string }) {
  const loopback = isLoopbackHost(host);
  return (
    <section className="card share-card" aria-label="Plain HTTP" data-testid="plain-http">
      <div className="card-head">
        <h3>Connection</h3>
        <span className="scheme-pill plain">Plain HTTP</span>
      </div>
      <div className="share-body">
        {loopback ? (
          <p>
            The registry runs <strong>plain HTTP on loopback</strong> at <code>{host}</code>: only this machine can reach it, and Docker accepts plain
            HTTP there without any setup. There is no certificate for other machines to trust yet.
          </p>
        ) : (
          <div className="note warn" role="note">
            <strong>Plain HTTP beyond loopback.</strong> The registry was started with <code>--insecure-http</code>: passwords and images cross the network
            unencrypted, and every Docker daemon that uses it must list <code>{host}</code> under <code>insecure-registries</code>.
          </div>
        )}
        <p>To share it with other machines, serve HTTPS with Lanyard's own certificate authority. Stop the registry and start it with one of:</p>
        <div className="option-list">
          <div className="option">
            <CodeLine prompt text="lanyard serve --addr 0.0.0.0:5000" />
            <p className="muted small">Listen on the network: HTTPS and user logins turn on by themselves.</p>
          </div>
          <div className="option">
            <CodeLine prompt text="lanyard serve --tls" />
            <p className="muted small">HTTPS even on loopback, e.g. to try the certificate out on this machine first.</p>
          </div>
        </div>
        <p className="muted small">This page then shows the certificate's fingerprint and a one-line command that makes another machine trust it.</p>
      </div>
    </section>
  );
}

// ------------------------------------------------------------------ HTTPS

function HttpsCards({ tls, transport }: { tls: TlsInfo; transport: ApiClient['transport'] }) {
  const managed = tls.mode === 'managed';
  const days = tls.notAfter ? daysUntil(tls.notAfter) : null;
  const caUrl = tls.addresses.length ? `https://${tls.addresses[0]}/lanyard/ca.crt` : null;
  return (
    <>
      <section className="card share-card" aria-label="Certificate">
        <div className="card-head">
          <h3>Certificate</h3>
          <span className="scheme-pill https" data-testid="https-state">
            HTTPS
          </span>
        </div>
        <dl className="facts share-facts">
          <dt>Issued by</dt>
          <dd>{managed ? "Lanyard's own certificate authority, created for this registry" : 'your certificate (REGISTRY_HTTP_TLS_CERTIFICATE)'}</dd>
          {tls.caFingerprint && (
            <>
              <dt>CA fingerprint</dt>
              <dd className="fingerprint-line">
                <code className="fingerprint" data-testid="ca-fingerprint" title="SHA-256 of the CA certificate">
                  <Breakable text={tls.caFingerprint} after=":" />
                </code>
                <CopyButton text={tls.caFingerprint} title="Copy the CA's SHA-256 fingerprint" />
              </dd>
            </>
          )}
          {tls.notAfter && (
            <>
              <dt>Valid until</dt>
              <dd>
                {isoDate(tls.notAfter)}
                {days !== null && <span className="muted"> · {days < 0 ? 'expired' : `${days} days left`}</span>}
                {managed && <span className="muted"> · renewed by Lanyard</span>}
              </dd>
            </>
          )}
          {tls.names.length > 0 && (
            <>
              <dt>Names</dt>
              <dd>
                <ul className="name-chips" aria-label="Names in the certificate">
                  {tls.names.map((n) => (
                    <li key={n}>
                      <code>{n}</code>
                    </li>
                  ))}
                </ul>
              </dd>
            </>
          )}
          {managed && (
            <>
              <dt>CA certificate</dt>
              <dd>
                {transport === 'http' ? (
                  <a className="btn download-btn" href="/lanyard/ca.crt" download="lanyard-ca.crt">
                    Download lanyard-ca.crt
                  </a>
                ) : caUrl ? (
                  <span>
                    Other machines download it from <code>{caUrl}</code>
                  </span>
                ) : (
                  <span className="muted">served at /lanyard/ca.crt</span>
                )}
                <span className="muted small ca-hint">Compare its fingerprint with the one above before trusting it by hand.</span>
              </dd>
            </>
          )}
        </dl>
      </section>

      <JoinCard tls={tls} />
    </>
  );
}

/** `text` with line-break opportunities after each `after` (long fingerprints wrap between bytes). */
function Breakable({ text, after }: { text: string; after: string }) {
  const parts = text.split(after);
  return (
    <>
      {parts.map((p, i) => (
        <Fragment key={i}>
          {p}
          {i < parts.length - 1 && (
            <>
              {after}
              <wbr />
            </>
          )}
        </Fragment>
      ))}
    </>
  );
}

function JoinCard({ tls }: { tls: TlsInfo }) {
  const managed = tls.mode === 'managed';
  return (
    <section className="card share-card" aria-label="Join from another machine">
      <div className="card-head">
        <h3>Join from another machine</h3>
      </div>
      <ol className="steps">
        {managed && (
          <li>
            <div className="step-title">Run this on the other machine</div>
            {tls.joinCommand ? (
              <>
                <p className="muted small">
                  It downloads the CA and <strong>checks the fingerprint before installing anything</strong>, then makes the system, Docker and podman
                  trust it. Needs <code>sudo</code> on the other machine (Linux or macOS, with curl).
                </p>
                <JoinCommand text={tls.joinCommand} />
              </>
            ) : (
              <p className="muted small">No join command: the certificate names no address that other machines can use.</p>
            )}
          </li>
        )}
        {!managed && (
          <li>
            <div className="step-title">Trust the certificate's issuer</div>
            <p className="muted small">
              The registry serves your own certificate: other machines trust it when they trust whoever issued it, so there is nothing for Lanyard to
              install.
            </p>
          </li>
        )}
        <li>
          <div className="step-title">Log in with Docker at one of these addresses</div>
          {tls.addresses.length > 0 ? (
            <ul className="address-list" aria-label="Addresses for other machines">
              {tls.addresses.map((a) => (
                <li key={a} data-address={a}>
                  <CodeLine prompt text={`docker login ${a}`} />
                </li>
              ))}
            </ul>
          ) : (
            <div className="note warn" role="note">
              <strong>No address for other machines.</strong> The certificate only names this machine's loopback addresses: connect it to a network
              and Lanyard adds the new address to the certificate.
            </div>
          )}
          {tls.addresses.length > 0 && (
            <p className="muted small">
              Then push and pull as usual, e.g. <code>docker pull {tls.addresses[0]}/my-app:latest</code>.
            </p>
          )}
        </li>
      </ol>
    </section>
  );
}

/** The long one-liner: a few lines by default, all of it on demand (it is meant to be read). */
function JoinCommand({ text }: { text: string }) {
  const [open, setOpen] = useState(false);
  return (
    <div className={`command-block${open ? ' open' : ''}`}>
      <pre data-testid="join-command">
        <code>
          <span className="prompt">$ </span>
          {text}
        </code>
      </pre>
      <div className="command-actions">
        <button type="button" className="btn" onClick={() => setOpen(!open)} aria-expanded={open}>
          {open ? 'Show less' : 'Show all'}
        </button>
        <CopyButton text={text} label="Copy command" title="Copy the join command" />
      </div>
    </div>
  );
}

// ------------------------------------------------------------------ this machine

const STATE_MEANING: Record<string, string> = {
  installed: 'trusts the CA',
  missing: 'does not trust the CA yet',
  mismatch: 'holds a different certificate',
  unknown: 'could not be checked',
  ok: 'done',
  failed: 'failed',
  'not-run': 'did not run',
};

function StateBadge({ state }: { state: string }) {
  const known = state in STATE_MEANING;
  return (
    <span className={`state-badge state-${known ? state : 'other'}`} title={STATE_MEANING[state]}>
      {state}
    </span>
  );
}

function TargetTable({ targets, label }: { targets: TrustTarget[]; label: string }) {
  return (
    <table className="grid trust-table" aria-label={label}>
      <thead>
        <tr>
          <th className="target-col">Target</th>
          <th className="state-col">State</th>
          <th>Detail</th>
        </tr>
      </thead>
      <tbody>
        {targets.map((t, i) => (
          <tr key={`${i}:${t.label}`} data-target={t.label} data-state={t.state}>
            <td className="target-label">{t.label}</td>
            <td>
              <StateBadge state={t.state} />
            </td>
            <td className="target-detail">{t.detail || <span className="muted">–</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function summary(targets: TrustTarget[]): string {
  const n = (s: string) => targets.filter((t) => t.state === s).length;
  const installed = n('installed');
  if (targets.length === 0) return 'Nothing to check on this machine.';
  if (installed === targets.length) return 'This machine trusts the CA everywhere Lanyard looks.';
  if (installed === 0) return 'This machine does not trust the CA yet.';
  return `${installed} of ${targets.length} places trust the CA.`;
}

type Done = { action: 'install' | 'uninstall'; result: TrustOutcome };

function ThisMachineCard({ tls, transport, dataDir }: { tls: TlsInfo; transport: ApiClient['transport']; dataDir?: string }) {
  const api = useApi();
  const act = useAction();
  const [pending, setPending] = useState<Done['action'] | null>(null);
  const [done, setDone] = useState<Done | null>(null);
  const managed = tls.https && tls.mode === 'managed';
  const status = useLoad(managed ? () => api.trustStatus() : null, `trust-status:${managed ? tls.caFingerprint : ''}`);
  const data = dataDir ? ` --data ${shellArg(dataDir)}` : '';

  function run(action: Done['action']) {
    setDone(null);
    setPending(action);
    act
      .run(async () => {
        const result = action === 'install' ? await api.installTrust() : await api.uninstallTrust();
        setDone({ action, result });
      })
      .then(() => {
        setPending(null);
        status.reload();
      });
  }

  return (
    <section className="card share-card" aria-label="This machine" data-testid="this-machine">
      <div className="card-head">
        <div>
          <h3>This machine</h3>
          <p className="muted small card-sub">Does the computer the registry runs on trust its CA? Docker and podman here need it for HTTPS addresses.</p>
        </div>
        {managed && (
          <button type="button" className="btn" onClick={status.reload} disabled={status.loading}>
            {status.loading ? 'Checking…' : 'Refresh'}
          </button>
        )}
      </div>
      <div className="share-body">
        {!managed ? (
          <p className="muted">
            {tls.https
              ? 'The registry serves your own certificate: trust its issuer with your usual tools.'
              : "Nothing to trust: the registry runs plain HTTP, so there is no Lanyard CA yet."}
          </p>
        ) : (
          <>
            {status.error && <ErrorNote error={status.error} what="the trust status" />}
            {!status.data && !status.error && <Spinner label="Checking the trust stores…" />}
            {status.data && (
              <>
                <p className="trust-summary" data-testid="trust-summary">
                  {summary(status.data)}
                </p>
                <TargetTable targets={status.data} label="Trust on this machine" />
              </>
            )}

            {transport === 'ipc' ? (
              <div className="trust-actions">
                <button type="button" className="btn primary" disabled={act.busy} onClick={() => run('install')}>
                  {pending === 'install' ? 'Installing…' : 'Trust on this machine'}
                </button>
                <button type="button" className="btn danger" disabled={act.busy} onClick={() => run('uninstall')}>
                  {pending === 'uninstall' ? 'Removing…' : 'Remove trust'}
                </button>
                <span className="muted small">Asks for administrator rights once.</span>
              </div>
            ) : (
              <div className="cli-trust">
                <p className="small">
                  Trust is installed on the registry machine itself, not on the one running this browser. Run there:
                </p>
                <CodeLine prompt text={`lanyard trust install${data}`} />
                <CodeLine prompt text={`lanyard trust status${data}`} />
              </div>
            )}
            {act.error && <InlineError error={act.error} onDismiss={act.clear} />}
            {done && <OutcomeNote done={done} onDismiss={() => setDone(null)} />}
          </>
        )}
      </div>
    </section>
  );
}

function OutcomeNote({ done, onDismiss }: { done: Done; onDismiss: () => void }) {
  const { action, result } = done;
  const title = result.ok
    ? action === 'install'
      ? 'Trusted on this machine.'
      : 'Trust removed from this machine.'
    : action === 'install'
      ? 'Trust was not installed everywhere.'
      : 'Trust was not removed everywhere.';
  return (
    <div className={`outcome ${result.ok ? 'ok' : 'failed'}`} role="status" data-testid="trust-outcome" data-action={action}>
      <div className="outcome-head">
        <strong>{title}</strong>
        <button type="button" className="dismiss" aria-label="Dismiss" title="Dismiss" onClick={onDismiss}>
          ×
        </button>
      </div>
      {result.targets.length > 0 ? (
        <TargetTable targets={result.targets} label={action === 'install' ? 'Install outcome' : 'Removal outcome'} />
      ) : (
        <p className="muted small">Nothing to do.</p>
      )}
    </div>
  );
}
