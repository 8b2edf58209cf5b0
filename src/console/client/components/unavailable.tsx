/**
 * What a page shows when this gateway has no such route yet (404
 * `not_found` from the admin API): an older gateway, or a feature that has
 * not landed. A missing record is a different answer (`site_not_found`, …).
 */
export function Unavailable({ what }: { what: string }) {
  return (
    <div class="notice" role="status">
      <p>
        <strong>{what}: not available on this gateway yet.</strong> Its admin API has no such endpoint; a newer
        verigate adds it.
      </p>
    </div>
  );
}
