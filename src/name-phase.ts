/**
 * A fixed point in [0, period) for a name: FNV-1a of the name modulo the period. Any fixed spread would do; a hash of
 * the name needs nothing stored, is the same in every process, and spreads a fleet's names evenly. It places a
 * stream's sampling grid (every owner of the stream agrees on it) and a lease's renewals within their interval.
 */
export function namePhase(name: string, period: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return hash % period;
}
