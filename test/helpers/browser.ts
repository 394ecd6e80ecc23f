// Shared Chromium test plumbing: collect what a page reports that a test should fail on.
import type { Page } from 'playwright-core';

/**
 * Record page errors and console errors/warnings of `page` in `problems`. Failed resource
 * loads with a 4xx status are expected (401/403/400 answers the tests ask for) unless
 * `allow4xx` is false.
 */
export function watchPage(page: Page, problems: string[], name = '', allow4xx = true): void {
  const tag = name ? `${name}: ` : '';
  page.on('pageerror', (e) => problems.push(`${tag}page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error' && m.type() !== 'warning') return;
    if (allow4xx && /Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) return;
    problems.push(`${tag}console ${m.type()}: ${m.text()}`);
  });
}
