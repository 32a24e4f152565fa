/**
 * Where a copy sent to MEGA S4 or a local folder can be found (its URL, its path), as a button
 * that copies it (the location itself in its tooltip): those destinations have no link to open,
 * the way MEGA's "Open in MEGA" does.
 */
import { useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';

export function CopyLocation({ location, label }: { location: string; label: string }) {
  const { t } = useTranslation();
  const [copied, setCopied] = useState(false);
  const text = useRef<HTMLSpanElement>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(location);
    } catch {
      // No clipboard (an insecure page, a denied permission): select the text for a manual copy.
      const range = document.createRange();
      const node = text.current;
      if (node) {
        range.selectNodeContents(node);
        window.getSelection()?.removeAllRanges();
        window.getSelection()?.addRange(range);
      }
    }
    setCopied(true);
    window.setTimeout(() => setCopied(false), 2000);
  };
  return (
    <span className="copy-location">
      <span ref={text} className="sr-only">
        {location}
      </span>
      <button
        title={location}
        type="button"
        className="button button--ghost button--small"
        aria-label={t(copied ? 'batch.copiedLabel' : 'batch.copyLocationLabel', { key: label })}
        onClick={() => void copy()}
      >
        {copied ? t('batch.copied') : t('batch.copyLocation')}
      </button>
      <span className="sr-only" aria-live="polite">
        {copied ? t('batch.copied') : ''}
      </span>
    </span>
  );
}
