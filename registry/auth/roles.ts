// Roles and per-repository rules, kept beside the htpasswd file in roles.json:
//   { "users": { "alice": { "role": "admin" },
//                "ci":    { "role": "pull", "repos": { "team/*": "push", "secret/*": "none" } } } }
// A user without an entry has `push` (registry:2 behaviour: every htpasswd user may push).
export type Role = 'admin' | 'push' | 'pull';
export type RuleRole = Role | 'none';
export const ROLES: readonly Role[] = ['admin', 'push', 'pull'];
export const RULE_ROLES: readonly RuleRole[] = ['admin', 'push', 'pull', 'none'];
export const DEFAULT_ROLE: Role = 'push';

export type Action = 'pull' | 'push' | 'delete';

export interface UserRoles {
  role: Role;
  repos?: Record<string, RuleRole>;
}

export interface RolesDoc {
  users: Record<string, UserRoles>;
}

const RANK: Record<RuleRole, number> = { none: 0, pull: 1, push: 2, admin: 3 };
const PATTERN = /^[a-z0-9._\-/*]{1,255}$/;

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

export function isRuleRole(v: unknown): v is RuleRole {
  return typeof v === 'string' && (RULE_ROLES as readonly string[]).includes(v);
}

export function isValidPattern(p: string): boolean {
  return PATTERN.test(p);
}

/** Parse roles.json leniently: unknown or malformed entries are dropped, never fatal. */
export function parseRoles(text: string | null): RolesDoc {
  const doc: RolesDoc = { users: {} };
  if (!text) return doc;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return doc;
  }
  const users = (raw as { users?: unknown })?.users;
  if (typeof users !== 'object' || users === null) return doc;
  for (const [name, v] of Object.entries(users as Record<string, unknown>)) {
    const role = (v as { role?: unknown })?.role;
    if (!isRole(role)) continue;
    const entry: UserRoles = { role };
    const repos = (v as { repos?: unknown }).repos;
    if (typeof repos === 'object' && repos !== null) {
      for (const [pattern, r] of Object.entries(repos as Record<string, unknown>)) {
        if (isValidPattern(pattern) && isRuleRole(r)) (entry.repos ??= {})[pattern] = r;
      }
    }
    doc.users[name] = entry;
  }
  return doc;
}

function matches(pattern: string, repo: string): boolean {
  if (!pattern.includes('*')) return pattern === repo;
  const re = new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  return re.test(repo);
}

/** How specific a pattern is: an exact name beats any wildcard; more literal characters win. */
function specificity(pattern: string): number {
  return pattern.includes('*') ? pattern.replace(/\*/g, '').length : 100_000 + pattern.length;
}

/** The role a user has on a repository (or registry-wide when repo is null). */
export function effectiveRole(entry: UserRoles | undefined, repo: string | null): RuleRole {
  const base = entry?.role ?? DEFAULT_ROLE;
  if (base === 'admin' || repo === null || !entry?.repos) return base;
  let best: { spec: number; role: RuleRole } = { spec: -1, role: base };
  for (const [pattern, role] of Object.entries(entry.repos)) {
    if (!matches(pattern, repo)) continue;
    const spec = specificity(pattern);
    if (spec > best.spec) best = { spec, role };
  }
  return best.role;
}

export function roleAllows(role: RuleRole, action: Action): boolean {
  return RANK[role] >= (action === 'pull' ? RANK.pull : RANK.push);
}
