/**
 * The query parameter of a login link (SPEC §14): a page opened as
 * `https://app.example/welcome?verigate_identity=<identity token>` signs
 * the visitor in with that token.
 *
 * @example
 * ```ts
 * const link = `https://app.example/welcome?${LOGIN_LINK_PARAMETER}=${encodeURIComponent(identityToken)}`;
 * ```
 */
export const LOGIN_LINK_PARAMETER = 'verigate_identity';

/** The decoded name of one `name=value` part of a query string, or null when it cannot be decoded. */
function partName(part: string): string | null {
  const raw = part.split('=')[0] ?? '';
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

/**
 * Takes a login link's identity token out of the page's address, at once
 * and synchronously: reads `verigate_identity` from the query, then removes
 * it with `history.replaceState` (the rest of the query and the fragment
 * stay exactly as they were), so no script that runs after this can read it
 * from `location`, and the history entry no longer holds it. Null when the
 * address has none (or no `location` to read: not a browser page).
 *
 * @example
 * ```ts
 * const token = takeLoginLinkToken(); // before anything else reads location
 * if (token) await verigate.identify(token);
 * ```
 */
export function takeLoginLinkToken(): string | null {
  if (typeof location === 'undefined' || typeof history === 'undefined') return null;
  const query = location.search.slice(1);
  if (query === '') return null;
  const parts = query.split('&');
  if (!parts.some((part) => partName(part) === LOGIN_LINK_PARAMETER)) return null;
  const token = new URLSearchParams(query).get(LOGIN_LINK_PARAMETER);
  const kept = parts.filter((part) => part !== '' && partName(part) !== LOGIN_LINK_PARAMETER);
  const search = kept.length > 0 ? `?${kept.join('&')}` : '';
  try {
    history.replaceState(history.state, '', `${location.pathname}${search}${location.hash}`);
  } catch {
    // A sandboxed or opaque-origin document may refuse; nothing else can be done from here.
  }
  return token || null;
}
