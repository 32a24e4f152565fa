/**
 * The destinations this process can write, built from the settings through the destination
 * registry (src/main/engine/destinations/registry.ts). A batch records its destination's id; the
 * engine asks this directory for it when it moves the batch's files (a resume uses the batch's
 * destination, never "whichever is configured now"). Destinations are made on first use and kept
 * for the life of the directory; new settings make a new directory that keeps every destination
 * whose options did not change.
 */
import {
  DESTINATIONS,
  type DestinationKind,
  type DestinationValues,
  declarationOf,
  destinationIdOf,
  destinationLabel,
  kindOfDestinationId,
  missingOptions,
  notConfiguredMessage,
} from '../../shared/destinations';
import type { DestinationContext, DestinationRegistry } from '../engine/destinations/registry';
import { InputError } from '../engine/errors';
import type { Destination, DestinationSet, FolderRegistry } from '../engine/ports';
import type { SettingsValues } from './settings';

export class DestinationDirectory implements DestinationSet {
  private readonly opened = new Map<string, Destination>();
  /** Destinations handed on to a successor directory (closed by it, not by this one). */
  private readonly handedOn = new Set<Destination>();
  private registry: FolderRegistry | null = null;

  constructor(
    private readonly values: SettingsValues,
    private readonly ctx: DestinationContext,
    private readonly factories: DestinationRegistry,
    /** Whether the settings can hold secrets (a keychain or key): says where to configure them. */
    private readonly settingsHoldSecrets: boolean,
  ) {}

  private valuesOf<K extends DestinationKind>(kind: K): DestinationValues<K> {
    return this.values[kind] as DestinationValues<K>;
  }

  /** True when everything the kind needs is set. */
  configured(kind: DestinationKind): boolean {
    return missingOptions(kind, this.valuesOf(kind)).length === 0;
  }

  notConfigured(kind: DestinationKind): string {
    return notConfiguredMessage(kind, this.settingsHoldSecrets);
  }

  idFor(kind: DestinationKind, target: string): string {
    if (!this.configured(kind)) throw new InputError(this.notConfigured(kind));
    return destinationIdOf(kind, this.valuesOf(kind), target);
  }

  byId(id: string): Destination | null {
    const known = this.opened.get(id);
    if (known) return known;
    const kind = kindOfDestinationId(id);
    if (!kind || !this.configured(kind)) return null;
    const destination = this.open(kind, id);
    if (!destination) return null;
    if (this.registry) destination.useFolderRegistry?.(this.registry);
    this.opened.set(id, destination);
    return destination;
  }

  private open<K extends DestinationKind>(kind: K, id: string): Destination | null {
    const factory = this.factories[kind] as DestinationRegistry[K];
    return factory.open(id, this.valuesOf(kind), this.ctx);
  }

  problemWith(id: string): string | null {
    if (this.byId(id)) return null;
    const kind = kindOfDestinationId(id);
    if (!kind) return `unknown destination ${id}`;
    if (!this.configured(kind)) return this.notConfigured(kind);
    return (
      `${destinationLabel(id)} is not the ${declarationOf(kind).account} configured here ` +
      `(${this.describeKind(kind)}): change the settings, or let a process configured for it move these files`
    );
  }

  useFolderRegistry(registry: FolderRegistry): void {
    this.registry = registry;
    for (const destination of this.opened.values()) destination.useFolderRegistry?.(registry);
  }

  private describeKind(kind: DestinationKind): string {
    const v = this.values[kind] as Record<string, string>;
    if (kind === 'mega') return destinationIdOf('mega', v, '');
    // `s4:<host>`: every bucket of the configured endpoint.
    if (kind === 's4') return destinationIdOf('s4', v, '').slice(0, -1);
    return 'local';
  }

  describe(): string {
    return DESTINATIONS.filter((d) => this.configured(d.kind))
      .map((d) => this.describeKind(d.kind))
      .join(', ');
  }

  /**
   * The directory for new settings: destinations whose options (and context) are the same are
   * handed on, the others are made afresh when first used.
   */
  successor(values: SettingsValues, ctx: DestinationContext): DestinationDirectory {
    const next = new DestinationDirectory(values, ctx, this.factories, this.settingsHoldSecrets);
    const sameCtx = sameContext(this.ctx, ctx);
    for (const [id, destination] of this.opened) {
      const kind = kindOfDestinationId(id);
      if (!kind || !sameCtx) continue;
      if (JSON.stringify(this.values[kind]) !== JSON.stringify(values[kind])) continue;
      next.opened.set(id, destination);
      this.handedOn.add(destination);
    }
    return next;
  }

  /** Closes the destinations this directory opened and did not hand on. */
  async close(): Promise<void> {
    await Promise.all(
      [...this.opened.values()]
        .filter((d) => !this.handedOn.has(d))
        .map((d) => d.close().catch(() => undefined)),
    );
  }
}

/** A second-factor code given means a new login: never the same context. */
function sameContext(a: DestinationContext, b: DestinationContext): boolean {
  if (a.mfaCode || b.mfaCode) return false;
  return (
    a.connections === b.connections &&
    a.megaGateway === b.megaGateway &&
    JSON.stringify(a.requestRetry) === JSON.stringify(b.requestRetry)
  );
}
