/**
 * The tray icon: a progress tooltip ("MegaFerry — 3 transferring, 12 of 40 done, 45%") and a menu
 * to show the window, cancel every transfer, or quit.
 */
import { Menu, Tray, nativeImage } from 'electron';
import { trayTooltip } from '../../shared/batch-summary';
import type { BatchStatus } from '../../shared/contract';

export interface TrayActions {
  show(): void;
  cancelAll(): void;
  quit(): void;
}

export class FerryTray {
  private readonly tray: Tray;

  constructor(iconPath: string, actions: TrayActions) {
    // tray.png is 16 px; tray@2x.png beside it is picked on HiDPI screens.
    const icon = nativeImage.createFromPath(iconPath);
    this.tray = new Tray(icon);
    this.tray.setContextMenu(
      Menu.buildFromTemplate([
        { label: 'Show MegaFerry', click: () => actions.show() },
        { type: 'separator' },
        { label: 'Cancel all transfers', click: () => actions.cancelAll() },
        { type: 'separator' },
        { label: 'Quit', click: () => actions.quit() },
      ]),
    );
    this.tray.on('click', () => actions.show());
    this.update([]);
  }

  update(active: readonly BatchStatus[]): void {
    if (this.tray.isDestroyed()) return;
    this.tray.setToolTip(trayTooltip(active));
  }

  destroy(): void {
    if (!this.tray.isDestroyed()) this.tray.destroy();
  }
}
