/** Records are stored as JSON text, exactly as the domain wrote them. */
export const encode = (record: unknown): string => JSON.stringify(record);

/** A stored record, or null when the key is absent. */
export function decode<T>(raw: string | null | undefined): T | null {
  return raw === null || raw === undefined ? null : (JSON.parse(raw) as T);
}

/**
 * The last record decoded per key, so that reading the very same text again
 * costs a string comparison instead of a parse. The store is still read
 * every time: only the decoding is skipped, and only when the text is
 * unchanged. Records are never mutated (the domain treats them as
 * readonly), so handing out the same object again is safe. At most
 * `maxEntries` keys, oldest first out.
 */
export class DecodeMemo {
  private readonly entries = new Map<string, { readonly raw: string; readonly record: unknown }>();

  constructor(private readonly maxEntries: number) {}

  decode<T>(key: string, raw: string | null | undefined): T | null {
    if (raw === null || raw === undefined) {
      this.entries.delete(key);
      return null;
    }
    const known = this.entries.get(key);
    if (known !== undefined && known.raw === raw) return known.record as T;
    const record = JSON.parse(raw) as T;
    if (known === undefined && this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { raw, record });
    return record;
  }
}
