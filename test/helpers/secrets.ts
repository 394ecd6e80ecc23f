// Every password the tests use, in one list: test/final/logs.test.ts greps the server logs of
// the whole suite for each of them (and for their Basic-auth encodings), so a password that a
// test sends must be declared here, never inline in a test file.
// The values are deliberately unusual strings, so they cannot match anything else in a log.

export interface TestCredential {
  user: string;
  password: string;
}

/** Users the access-control tests create (the key is how the tests refer to them). */
export const USERS = {
  /** admin on the main test registry */
  alice: { user: 'alice', password: 'Al1ce-adm1n.pw-Kq7' },
  /** role pull */
  puller: { user: 'puller', password: 'Pu11er-only.pw-Zr4' },
  /** role pull, plus a rule team/* = push */
  ci: { user: 'ci', password: 'C1-robot.pw-Xw9' },
  /** role push, removed while its credentials are cached */
  carol: { user: 'carol', password: 'Car0l-gone.pw-Pm2' },
  /** role push, plus a rule secret/* = none */
  spy: { user: 'spy', password: 'Spy-n0-secrets.pw-Hd5' },
  /** added with the `htpasswd -B` tool while the server runs */
  dave: { user: 'dave', password: 'Dav3-htpasswd.pw-Tq8' },
  /** the lockout registry's user */
  locky: { user: 'locky', password: 'L0cky-right.pw-Bn3' },
  /** asks the token endpoint for a Bearer token, then is removed */
  tokenuser: { user: 'tokenuser', password: 'T0ken-user.pw-Vc6' },
  /** written by `lanyard users add`, used against registry:2 */
  lanyardmade: { user: 'lanyardmade', password: 'Lany4rd-made.pw-Qs1' },
  /** written by `htpasswd -Bbn`, used against Lanyard */
  htmade: { user: 'htmade', password: 'Htpassw0rd-made.pw-Ye7' },
} satisfies Record<string, TestCredential>;

/** Wrong passwords the tests type on purpose (a typo is often close to the real one: secret too). */
export const WRONG_PASSWORDS = ['Wr0ng-guess.pw-Jh2', 'Al1ce-adm1n.pw-Kq8', 'L0cky-wrong.pw-Gf9'] as const;

/** Every password above. */
export const PASSWORDS: string[] = [...Object.values(USERS).map((u) => u.password), ...WRONG_PASSWORDS];

/** What must never appear in a log: each password, and each user:password pair as Basic auth sends it. */
export function secretNeedles(): { what: string; needle: string }[] {
  const out: { what: string; needle: string }[] = [];
  for (const [key, u] of Object.entries(USERS)) {
    out.push({ what: `password of ${key}`, needle: u.password });
    // without the '=' padding, so a log that dropped it is caught as well
    out.push({ what: `base64 user:password of ${key}`, needle: Buffer.from(`${u.user}:${u.password}`).toString('base64').replace(/=+$/, '') });
  }
  for (const [i, p] of WRONG_PASSWORDS.entries()) out.push({ what: `wrong password #${i + 1}`, needle: p });
  return out;
}
