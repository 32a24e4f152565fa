/**
 * How the store names a destination (SPEC.md "Data model": `destination`): `mega:<account
 * e-mail>`, `s4:<endpoint host>/<bucket>`, `local:<folder>`. Declared with the destinations
 * (src/shared/destinations.ts) so that naming one loads none of them.
 */
export { localDestinationId, megaDestinationId, s4DestinationId } from '../../../shared/destinations';
