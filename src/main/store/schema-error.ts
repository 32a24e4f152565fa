/**
 * A store written by a newer MegaFerry: its data model is not this version's to read or write, so
 * the process refuses to use it (the CLI exits 2 with this one line).
 */
export class StoreSchemaError extends Error {
  override name = 'StoreSchemaError';
}
