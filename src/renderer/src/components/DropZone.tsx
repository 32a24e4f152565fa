/**
 * Drag and drop on the whole window: a manifest selects keys in the current bucket; local files
 * and folders are sent to MEGA from the desktop app (a browser cannot read their paths).
 */
import { useEffect, useState } from 'react';
import { Trans, useTranslation } from 'react-i18next';
import { manifestKind } from '../../../shared/manifest';
import { i18n } from '../i18n';
import { useApp } from '../stores/app';
import { useBrowse } from '../stores/browse';
import { selectFromManifest, startLocalDrop, type LocalDrop } from '../transfer-actions';

const hasFiles = (e: DragEvent) => !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');

export function DropZone() {
  const { t } = useTranslation();
  const [over, setOver] = useState(false);
  const target = useBrowse((s) => s.target);
  const desktop = !!window.megaferry;

  useEffect(() => {
    let depth = 0;
    const enter = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth++;
      setOver(true);
    };
    const overHandler = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    };
    const leave = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) setOver(false);
    };
    const drop = (e: DragEvent) => {
      if (!hasFiles(e) || !e.dataTransfer) return;
      e.preventDefault();
      depth = 0;
      setOver(false);
      // Entries must be read during the event: the DataTransfer empties afterwards.
      const dropped = [...e.dataTransfer.items]
        .filter((i) => i.kind === 'file')
        .map((i) => ({ file: i.getAsFile(), folder: i.webkitGetAsEntry?.()?.isDirectory ?? false }))
        .filter((d): d is { file: File; folder: boolean } => d.file !== null);
      void handleDrop(dropped);
    };
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragover', overHandler);
    window.addEventListener('dragleave', leave);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragover', overHandler);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('drop', drop);
    };
  }, []);

  if (!over) return null;
  return (
    <div className="drop-overlay" role="dialog" aria-label={t('drop.label')}>
      <div className="drop-overlay__card">
        <svg viewBox="0 0 24 24" width="48" height="48" aria-hidden="true">
          <path
            d="M12 4v11M7 10l5 5 5-5M5 19h14"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.8"
            strokeLinecap="round"
            strokeLinejoin="round"
          />
        </svg>
        {desktop ? (
          <>
            <h2>{t('drop.desktopTitle')}</h2>
            <p>
              <Trans
                i18nKey="drop.desktopBody"
                values={{ target: target || '/' }}
                components={{ code: <code /> }}
              />
            </p>
          </>
        ) : (
          <>
            <h2>{t('drop.browserTitle')}</h2>
            <p>{t('drop.browserBody')}</p>
          </>
        )}
      </div>
    </div>
  );
}

async function handleDrop(dropped: { file: File; folder: boolean }[]): Promise<void> {
  if (dropped.length === 0) return;
  const manifests = dropped.every((d) => !d.folder && manifestKind(d.file.name) !== null);
  if (manifests) {
    for (const d of dropped) await selectFromManifest(d.file);
    return;
  }
  const bridge = window.megaferry;
  if (!bridge) {
    useApp.getState().notify('info', i18n.t('drop.desktopOnly'), i18n.t('drop.desktopOnlyDetail'));
    return;
  }
  const drops: LocalDrop[] = [];
  for (const d of dropped) {
    const path = bridge.pathForFile(d.file);
    if (path) drops.push({ path, folder: d.folder });
  }
  if (drops.length === 0) {
    useApp.getState().notify('error', i18n.t('drop.noPaths'));
    return;
  }
  await startLocalDrop(drops);
}
