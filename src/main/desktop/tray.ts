/**
 * The tray icon: a progress tooltip ("MegaFerry — 3 transferring, 12 of 40 done, 45%") and a menu
 * to show the window, pause, resume or cancel every transfer, or quit, in the shell's language (rebuilt when it
 * changes).
 */
import { Menu, Tray, nativeImage } from 'electron';
import { trayTooltip } from '../../shared/batch-summary';
import type { BatchStatus } from '../../shared/contract';
import type { Translate } from '../../shared/i18n';

export interface TrayActions {
  show(): void;
  pauseAll(): void;
  resumeAll(): void;
  cancelAll(): void;
  quit(): void;
}

export class FerryTray {
  private readonly tray: Tray;
  private active: readonly BatchStatus[] = [];

  constructor(
    iconPath: string,
    private readonly actions: TrayActions,
    private readonly t: Translate,
  ) {
    // tray.png is 16 px; tray@2x.png beside it is picked on HiDPI screens.
    const icon = nativeImage.createFromPath(iconPath);
    this.tray = new Tray(icon);
    this.tray.on('click', () => actions.show());
    this.retranslate();
  }

  /** Builds the menu and the tooltip again in the current language. */
  retranslate(): void {
    if (this.tray.isDestroyed()) return;
    const { actions, t } = this;
    this.tray.setContextMenu(
      Menu.buildFromTemplate([
        { label: t('shell.show'), click: () => actions.show() },
        { type: 'separator' },
        { label: t('shell.pauseAll'), click: () => actions.pauseAll() },
        { label: t('shell.resumeAll'), click: () => actions.resumeAll() },
        { label: t('shell.cancelAll'), click: () => actions.cancelAll() },
        { type: 'separator' },
        { label: t('shell.quit'), click: () => actions.quit() },
      ]),
    );
    this.update(this.active);
  }

  update(active: readonly BatchStatus[]): void {
    this.active = active;
    if (this.tray.isDestroyed()) return;
    this.tray.setToolTip(trayTooltip(active, this.t));
  }

  destroy(): void {
    if (!this.tray.isDestroyed()) this.tray.destroy();
  }
}
