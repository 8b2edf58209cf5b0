import { useState } from 'preact/hooks';

/**
 * "Copy": the value to the clipboard, then "Copied" said in a live region.
 * Without the async clipboard API (an insecure context), the text of
 * `fallbackInputId` is selected and copied the old way.
 */
export function CopyButton({ value, fallbackInputId, label = 'Copy' }: { value: string; fallbackInputId?: string; label?: string }) {
  const [status, setStatus] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setStatus('Copied to the clipboard');
    } catch {
      const input = fallbackInputId ? (document.getElementById(fallbackInputId) as HTMLInputElement | null) : null;
      input?.select();
      setStatus(input && document.execCommand('copy') ? 'Copied to the clipboard' : 'Select the text and copy it');
    }
  };
  return (
    <span class="copy">
      <button type="button" onClick={() => void copy()}>
        {label}
      </button>
      <span class="copy-status" role="status">
        {status}
      </span>
    </span>
  );
}
