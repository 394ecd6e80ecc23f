export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}

export function shortDigest(d: string | null | undefined, n = 12): string {
  if (!d) return '–';
  const i = d.indexOf(':');
  return i < 0 ? d.slice(0, n) : `${d.slice(0, i + 1)}${d.slice(i + 1, i + 1 + n)}`;
}

/** "application/vnd.oci.image.layer.v1.tar+gzip" → "oci.image.layer.v1.tar+gzip" */
export function shortMediaType(t: string): string {
  return t.replace(/^application\/vnd\./, '');
}

export function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m`;
  return `${seconds}s`;
}

export function formatTime(iso: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const sameDay = t.toDateString() === new Date().toDateString();
  const time = `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${pad(t.getMilliseconds(), 3)}`;
  return sameDay ? time : `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${time}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/:\d+$/, '');
  return h === 'localhost' || h === '[::1]' || /^127\./.test(h);
}

export type AuthTone = 'ok' | 'bad' | 'warn' | 'change';

/** An access-control audit event in words: a short label, a sentence, and how alarming it is. */
export function describeAuthEvent(e: {
  action: string;
  user: string | null;
  repo?: string;
  detail?: Record<string, string | number | boolean | null>;
}): { label: string; text: string; tone: AuthTone } {
  const who = e.user ?? 'anonymous';
  const d = e.detail ?? {};
  switch (e.action) {
    case 'login.success':
      return { label: 'Login', text: `${who} logged in`, tone: 'ok' };
    case 'login.failure':
      return { label: 'Login failed', text: `Wrong user name or password for ${who}`, tone: 'bad' };
    case 'lockout':
      return { label: 'Locked out', text: `Too many failed logins: ${who} has to wait before trying again`, tone: 'bad' };
    case 'denied':
      return { label: 'Denied', text: `${who} may not ${typeof d.action === 'string' ? d.action : 'access'}${e.repo ? ` ${e.repo}` : ''}`, tone: 'warn' };
    case 'user.add':
      return { label: 'User added', text: `${who} added with role ${d.role ?? '?'}${d.initial ? ' (the first admin)' : ''}`, tone: 'change' };
    case 'user.remove':
      return { label: 'User removed', text: `${who} removed`, tone: 'change' };
    case 'user.role':
      return { label: 'Role changed', text: `${who} is now ${d.role ?? '?'}`, tone: 'change' };
    case 'user.passwd':
      return { label: 'Password', text: `New password for ${who}`, tone: 'change' };
    case 'user.rule':
      return {
        label: 'Rule',
        text: d.role === null || d.role === undefined ? `${who}: rule ${d.pattern ?? '?'} removed` : `${who}: ${d.pattern ?? '?'} → ${d.role}`,
        tone: 'change',
      };
    default:
      return { label: e.action, text: who, tone: 'change' };
  }
}
