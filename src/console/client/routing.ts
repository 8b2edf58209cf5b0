/**
 * The console's pages live in the URL's fragment (`/console/#/sandbox/sites`):
 * the admin listener serves one page, `/console/`, and every console URL
 * still works as a bookmark or a shared link. wouter-preact's hash location
 * does the routing; links are plain `<a href="#/…">`.
 */
export { navigate, useHashLocation } from 'wouter-preact/use-hash-location';

/** The `href` of a console page: `#` + its path. */
export const href = (path: string): string => `#${path}`;

/**
 * One path segment of a console page (a site id, a user id) in an `href`.
 * Encoded twice: wouter decodes the fragment once with `decodeURI`, which
 * leaves `%2F` and the like alone, so the page's params come back singly
 * encoded and {@link decodeSegment} gives the id back exactly, whatever it holds.
 */
export const segment = (id: string): string => encodeURIComponent(encodeURIComponent(id));

export function decodeSegment(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
