/** Records are stored as JSON text, exactly as the domain wrote them. */
export const encode = (record: unknown): string => JSON.stringify(record);

/** A stored record, or null when the key is absent. */
export function decode<T>(raw: string | null | undefined): T | null {
  return raw === null || raw === undefined ? null : (JSON.parse(raw) as T);
}
