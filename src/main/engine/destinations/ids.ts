/**
 * How the store names a destination (SPEC.md "Data model": `destination`): `mega:<account
 * e-mail>`, `s4:<endpoint host>/<bucket>`, `local:<folder>`. Kept apart from the destinations
 * themselves so that naming one loads none of them.
 */

/** `mega:` and the account's e-mail, lower-cased (MEGA accounts are case-insensitive). */
export function megaDestinationId(email: string): string {
  return `mega:${email.trim().toLowerCase()}`;
}

/** `s4:` and the endpoint's host, then `/` and the bucket: `s4:s3.eu-central-1.s4.mega.io/archive`. */
export function s4DestinationId(endpoint: string, bucket: string): string {
  return `s4:${new URL(endpoint).host.toLowerCase()}/${bucket}`;
}

/** `local:` and the folder's absolute path, without a trailing separator (the root stays "/"). */
export function localDestinationId(folder: string): string {
  const trimmed = folder.length > 1 ? folder.replace(/[/\\]+$/, '') : folder;
  return `local:${trimmed || '/'}`;
}
