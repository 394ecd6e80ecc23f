// Pure checks used by the Electron shell (no Electron import, so unit tests can run them).

/**
 * True when `candidate` is the app's own page: same scheme, host and path as the UI's
 * index.html URL (query and hash may differ: the UI routes with the hash).
 */
export function isAppUrl(candidate: string, appIndexUrl: string): boolean {
  let u: URL;
  let app: URL;
  try {
    u = new URL(candidate);
    app = new URL(appIndexUrl);
  } catch {
    return false;
  }
  return u.protocol === app.protocol && u.host === app.host && u.pathname === app.pathname && u.username === '' && u.password === '';
}

/** A listening URL as a person should use it on this machine (no 0.0.0.0 / [::]). */
export function displayUrl(url: string): string {
  return url.replace('://0.0.0.0:', '://127.0.0.1:').replace('://[::]:', '://[::1]:');
}
