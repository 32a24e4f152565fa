/**
 * Secrets saved from the Settings screen are sealed with the operating system's keychain through
 * Electron's safeStorage (DPAPI on Windows, Keychain on macOS, libsecret/kwallet on Linux), with
 * its asynchronous API: the synchronous one is deprecated and leaves in Electron 46. Secrets sealed
 * by the synchronous API still open with the asynchronous one.
 */
import { safeStorage } from 'electron';
import type { SecretBox } from '../service/ferry-service';

/**
 * A SecretBox over safeStorage, or null when the OS offers no real keychain: then the service
 * keeps secrets out of the settings file. On Linux without a secret service safeStorage falls back
 * to "basic_text", a fixed key that only obfuscates: that counts as no keychain. Call after ready.
 */
export async function keychainSecretBox(): Promise<SecretBox | null> {
  // Also starts the asynchronous encryptor, which the backend check below needs.
  if (!(await safeStorage.isAsyncEncryptionAvailable())) return null;
  if (process.platform === 'linux') {
    const backend = safeStorage.getSelectedStorageBackend();
    if (backend === 'basic_text' || backend === 'unknown') return null;
  }
  return {
    seal: async (plain) => (await safeStorage.encryptStringAsync(plain)).toString('base64'),
    open: async (sealed) => {
      const { result, shouldReEncrypt } = await safeStorage.decryptStringAsync(Buffer.from(sealed, 'base64'));
      return { plain: result, reseal: shouldReEncrypt };
    },
  };
}
