// The tray icon: the registry keeps running while the window is closed.
import { Menu, Tray, clipboard, type NativeImage } from 'electron';

export interface TrayOptions {
  icon: NativeImage;
  registryUrl: string;
  onOpen(): void;
  onQuit(): void;
}

export function createTray(opts: TrayOptions): Tray {
  const tray = new Tray(opts.icon);
  const host = opts.registryUrl.replace(/^[a-z]+:\/\//i, '');
  tray.setToolTip(`Lanyard registry on ${host}`);
  tray.setContextMenu(
    Menu.buildFromTemplate([
      { label: `Registry on ${host}`, enabled: false },
      { type: 'separator' },
      { label: 'Open Lanyard', click: () => opts.onOpen() },
      { label: 'Copy Registry Address', click: () => clipboard.writeText(host) },
      { type: 'separator' },
      { label: 'Quit Lanyard', click: () => opts.onQuit() },
    ]),
  );
  tray.on('click', () => opts.onOpen());
  return tray;
}
