/** Instants as a person reads them, in UTC like the API (no guessing of time zones). */
export function formatInstant(iso: string | null | undefined, never = 'never'): string {
  if (!iso) return never;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** "in 3 h", "5 min ago": for last-used and expiry columns. */
export function relative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const ms = new Date(iso).getTime() - now;
  const abs = Math.abs(ms);
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) {
    if (abs >= size) {
      const n = Math.round(abs / size);
      return ms >= 0 ? `in ${n} ${unit}` : `${n} ${unit} ago`;
    }
  }
  return 'now';
}

/** A `datetime-local` value (read as UTC, as the label says) to an ISO instant; '' stays undefined. */
export function utcInputToIso(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(`${value}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** The key as it is shown after creation: its prefix and last four characters. */
export function maskedKey(environment: string, last4: string): string {
  return `vg_${environment}_sk_…${last4}`;
}
