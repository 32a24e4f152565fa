/** "Disconnected — reconnecting": shown while the service is lost; actions are disabled meanwhile. */
import { useTranslation } from 'react-i18next';
import { useOffline } from '../stores/app';

export function OfflineBanner() {
  const { t } = useTranslation();
  const offline = useOffline();
  if (!offline) return null;
  return (
    <div className="banner banner--warn offline-banner" role="alert">
      <span className="spinner" aria-hidden="true" />
      <span>
        <strong>{t('offline.title')}</strong> {t('offline.body')}
      </span>
    </div>
  );
}
