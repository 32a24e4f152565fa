/**
 * MongoDB connection strings read and redacted without the driver (the settings, the store's
 * chooser and the Test button use these; only the MongoDB adapter itself loads `mongodb`).
 */

/** The parts of a MongoDB connection string, credentials kept apart. */
export interface MongoUriParts {
  scheme: 'mongodb' | 'mongodb+srv';
  username: string | null;
  password: string | null;
  /** Comma-separated host list as written, without credentials. */
  hosts: string;
  dbName: string | null;
  /** Query string without the leading `?`, or null. */
  query: string | null;
}

const URI_PATTERN = /^(mongodb(?:\+srv)?):\/\/(?:([^@/?]*)@)?([^/?]*)(?:\/([^?]*))?(?:\?(.*))?$/s;

/** Splits a connection string; throws (without echoing the string) when it is not one. */
export function parseMongoUri(uri: string): MongoUriParts {
  const m = URI_PATTERN.exec(uri.trim());
  if (!m) throw new Error('MongoDB URI must start with "mongodb://" or "mongodb+srv://"');
  const [, scheme, userinfo, hosts, path, query] = m;
  let username: string | null = null;
  let password: string | null = null;
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    username = safeDecode(colon < 0 ? userinfo : userinfo.slice(0, colon));
    password = colon < 0 ? null : safeDecode(userinfo.slice(colon + 1));
  }
  return {
    scheme: scheme as MongoUriParts['scheme'],
    username,
    password,
    hosts: hosts ?? '',
    dbName: path ? safeDecode(path) : null,
    query: query ? query : null,
  };
}

/** The connection string with its password replaced by `***` (safe to log or show). */
export function redactMongoUri(uri: string): string {
  return uri.replace(/(mongodb(?:\+srv)?:\/\/[^:@/?]*):[^@/?]*@/g, '$1:***@');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
