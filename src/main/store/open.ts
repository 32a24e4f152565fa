/**
 * Chooses and opens the metadata store: MongoDB when a URI is configured, else the embedded
 * file-backed store in the data folder. Only the adapter chosen is loaded (the MongoDB driver
 * costs a process about 0.2 CPU-seconds and 20 MB just to load).
 */
import { parseMongoUri, redactMongoUri } from './mongo-uri';
import type { MetadataStore } from './port';

export interface OpenStoreOptions {
  /** MongoDB connection string; empty or absent selects the embedded store. */
  mongodbUri?: string;
  /** Folder of the embedded store (`megaferry.sqlite`, shared safely by every process on the machine). */
  dataDir: string;
  /** Fail-fast bound for an unreachable MongoDB (default 5000 ms). */
  serverSelectionTimeoutMS?: number;
  /** Where data of version 0.1 went (`mega:<e-mail>` of the configured account), for the upgrade. */
  legacyDestination?: string;
}

export async function openStore(opts: OpenStoreOptions): Promise<MetadataStore> {
  const uri = opts.mongodbUri?.trim();
  if (uri) {
    const { MongoStore } = await import('./mongo');
    let store: InstanceType<typeof MongoStore>;
    try {
      parseMongoUri(uri);
      store = new MongoStore(uri, {
        serverSelectionTimeoutMS: opts.serverSelectionTimeoutMS,
        legacyDestination: opts.legacyDestination,
      });
    } catch (err) {
      throw new Error(`MongoDB store: the MONGODB_URI is not valid: ${message(err, uri)}`, { cause: err });
    }
    try {
      await store.init();
    } catch (err) {
      await store.close().catch(() => undefined);
      throw new Error(`MongoDB store could not be opened: ${message(err, uri)}`, { cause: err });
    }
    return store;
  }
  const { EmbeddedStore } = await import('./embedded');
  const store = new EmbeddedStore(opts.dataDir, { legacyDestination: opts.legacyDestination });
  try {
    await store.init();
  } catch (err) {
    throw new Error(`embedded store in ${opts.dataDir} could not be opened: ${message(err)}`, {
      cause: err,
    });
  }
  return store;
}

function message(err: unknown, uri?: string): string {
  const text = err instanceof Error ? err.message : String(err);
  if (!uri) return text;
  // MongoStore already scrubs its messages; this guards anything that slipped through.
  return redactMongoUri(text).split(uri).join(redactMongoUri(uri));
}
