/**
 * Secrets saved from the Settings screen are sealed with the operating system's keychain through
 * Electron's safeStorage (DPAPI on Windows, Keychain on macOS, libsecret/kwallet on Linux).
 */
import { safeStorage } from 'electron';
import type { SecretBox } from '../service/ferry-service';

/**
 * A SecretBox over safeStorage, or null when the OS offers no real keychain: then the service
 * keeps secrets out of the settings file. On Linux without a secret service safeStorage falls back
 * to "basic_text", a fixed key that only obfuscates: that counts as no keychain. Call after ready.
 */
export function keychainSecretBox(): SecretBox | null {
  if (!safeStorage.isEncryptionAvailable()) return null;
  if (process.platform === 'linux') {
    const backend = safeStorage.getSelectedStorageBackend();
    if (backend === 'basic_text' || backend === 'unknown') return null;
  }
  return {
    seal: (plain) => safeStorage.encryptString(plain).toString('base64'),
    open: (sealed) => safeStorage.decryptString(Buffer.from(sealed, 'base64')),
  };
}
