/** The shell's language: the system's, MEGAFERRY_LANG's, then the one of every settings view. */
import { describe, expect, it } from 'vitest';
import type { SettingsView } from '../../shared/contract';
import type { ApiTarget } from './ipc-dispatch';
import { ShellLanguage } from './shell-language';

describe('the shell language', () => {
  const view = (language: SettingsView['ui']['language']) => ({ ui: { language } }) as SettingsView;

  it('follows the system, MEGAFERRY_LANG, and every settings view the service returns', async () => {
    let system = ['zh-TW', 'en-US'];
    const fromSystem = new ShellLanguage(() => system, undefined);
    expect(fromSystem.language).toBe('zh-Hant');
    expect(fromSystem.t('shell.quit')).toBe('結束');
    expect(new ShellLanguage(() => system, 'zh_CN.UTF-8').t('shell.quit')).toBe('退出');

    let saved: SettingsView = view('system');
    const service = {
      getSettings: async () => saved,
      saveSettings: async (patch: unknown) => (saved = view((patch as SettingsView).ui.language)),
      listBatches: async () => [],
    } as unknown as ApiTarget;
    const heard: string[] = [];
    fromSystem.onChange(() => heard.push(fromSystem.language));
    const watched = fromSystem.watchSettings(service);
    // A held `t` follows the language (the tray keeps one).
    const t = fromSystem.t;
    await watched.saveSettings({ ui: { language: 'zh-Hans' } });
    expect(t('shell.quit')).toBe('退出');
    saved = view('en');
    await watched.getSettings();
    expect(t('shell.quit')).toBe('Quit');
    // `system` again, after the system's language changed.
    system = ['zh-HK'];
    await watched.saveSettings({ ui: { language: 'system' } });
    expect(t('shell.show')).toBe('顯示 MegaFerry');
    expect(heard).toEqual(['zh-Hans', 'en', 'zh-Hant']);
    // Other methods pass through.
    expect(await watched.listBatches()).toEqual([]);
  });
});
