/** Transient notices (manifest results, errors of actions), announced politely. */
import { useEffect } from 'react';
import { useTranslation } from 'react-i18next';
import { useApp, type Notice } from '../stores/app';

function NoticeItem({ notice }: { notice: Notice }) {
  const { t } = useTranslation();
  const dismiss = useApp((s) => s.dismiss);
  useEffect(() => {
    if (notice.tone === 'error' || notice.tone === 'warn') return; // those stay until dismissed
    const t = setTimeout(() => dismiss(notice.id), 6000);
    return () => clearTimeout(t);
  }, [notice, dismiss]);
  return (
    <div className={`notice notice--${notice.tone}`}>
      <div className="notice__text">
        <strong>{notice.title}</strong>
        {notice.detail && <p>{notice.detail}</p>}
      </div>
      <button
        type="button"
        className="icon-button"
        aria-label={t('notice.dismiss')}
        onClick={() => dismiss(notice.id)}
      >
        ×
      </button>
    </div>
  );
}

export function Notices() {
  const notices = useApp((s) => s.notices);
  return (
    <div className="notices" role="status" aria-live="polite">
      {notices.map((n) => (
        <NoticeItem key={n.id} notice={n} />
      ))}
    </div>
  );
}
