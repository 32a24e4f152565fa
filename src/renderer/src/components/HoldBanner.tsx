/**
 * "MEGA takes no more data": shown while a destination's queue waits after MEGA refused more data
 * (over its storage or transfer quota) — why, and when it is tried again. Files keep their place.
 */
import { useTranslation } from 'react-i18next';
import { formatDate } from '../format';
import { useApp } from '../stores/app';

export function HoldBanner() {
  const { t } = useTranslation();
  const holds = useApp((s) => s.holds);
  const entries = Object.entries(holds);
  if (entries.length === 0) return null;
  return (
    <div className="banner banner--warn hold-banner" role="status">
      <span>
        <strong>{t('hold.title')}</strong>{' '}
        {entries.map(([destination, h]) => (
          <span key={destination}>
            {t('hold.body', { destination, reason: h.reason, time: formatDate(h.retry_at) })}{' '}
          </span>
        ))}
      </span>
    </div>
  );
}
