/**
 * How the store names a destination (SPEC.md "Data model": `destination`): `mega:<account
 * e-mail>`, `s4:<endpoint host>/<bucket>`, `local:<folder>`. Kept apart from the destinations
 * themselves so that naming one loads none of them.
 */

/** `mega:` and the account's e-mail, lower-cased (MEGA accounts are case-insensitive). */
export function megaDestinationId(email: string): string {
  return `mega:${email.trim().toLowerCase()}`;
}
