import type { ApiError } from '../api';

/**
 * A refusal, as the gateway worded it, with its stable `code` (what a person
 * quotes to support or searches for). `role="alert"` has screen readers say it
 * as soon as it appears.
 */
export function ErrorMessage({ error, prefix }: { error: ApiError | null; prefix?: string }) {
  if (!error) return null;
  const fields = error.problem?.errors ?? [];
  return (
    <div role="alert" class="error">
      <p>
        {prefix ? `${prefix}: ` : ''}
        {error.message} <code class="error-code">{error.code}</code>
      </p>
      {fields.length > 0 && (
        <ul>
          {fields.map((f) => (
            <li key={f.path}>
              <code>{f.path}</code> {f.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
