// The range of `kvs-infer replay`: two instants given as ISO 8601 (with a time zone, since a fleet's
// cameras and the machine replaying them rarely share one) or as epoch milliseconds.

import { ReplayError } from './errors.js';

/** Epoch ms, both ends inclusive (as ListFragments takes them). */
export interface TimeRange {
  start: number;
  end: number;
}

const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?$/i;
/** Epoch ms below this (March 1973) are far more likely epoch seconds typed by mistake. */
const SMALLEST_EPOCH_MS = 100_000_000_000;

/** `value` of option `--name` as epoch ms; REPLAY_BAD_TIME naming the option and the value otherwise. */
export function parseTime(name: string, value: string): number {
  const bad = (why: string) => new ReplayError('REPLAY_BAD_TIME', `--${name} ${why}, got "${value}"`);
  if (/^\d+$/.test(value)) {
    const ms = Number(value);
    if (ms < SMALLEST_EPOCH_MS) throw bad('is epoch milliseconds (that looks like seconds: add 000)');
    if (ms > 8.64e15) throw bad('is past the largest date');
    return ms;
  }
  const m = ISO_DATE_TIME.exec(value);
  if (m === null) throw bad('must be ISO 8601 (2026-12-06T10:00:00Z) or epoch milliseconds');
  const [, year, month, day, hour, minute, second = '0', fraction = '', zone] = m;
  if (hour !== undefined && zone === undefined) throw bad('needs a time zone (Z or +hh:mm)');
  const fields = [Number(year), Number(month) - 1, Number(day), Number(hour ?? 0), Number(minute ?? 0), Number(second)];
  const local = new Date(Date.UTC(fields[0]!, fields[1]!, fields[2]!, fields[3]!, fields[4]!, fields[5]!));
  // Date.UTC rolls 31 February over into March: a field out of range comes back changed.
  const back = [
    local.getUTCFullYear(),
    local.getUTCMonth(),
    local.getUTCDate(),
    local.getUTCHours(),
    local.getUTCMinutes(),
    local.getUTCSeconds(),
  ];
  if (back.some((field, i) => field !== fields[i])) throw bad('is not a valid date and time');
  const offset = offsetMs(zone ?? 'Z');
  if (offset === null) throw bad('has a time zone offset out of range');
  return local.getTime() + Math.floor(Number(`0.${fraction || '0'}`) * 1000) - offset;
}

/** The range of --start and --end; REPLAY_BAD_RANGE when it ends before it starts. */
export function parseRange(start: string, end: string): TimeRange {
  const range = { start: parseTime('start', start), end: parseTime('end', end) };
  if (range.end < range.start) {
    throw new ReplayError(
      'REPLAY_BAD_RANGE',
      `--end (${new Date(range.end).toISOString()}) is before --start (${new Date(range.start).toISOString()})`,
    );
  }
  return range;
}

/** `Z` or `+hh:mm` in ms east of UTC; null for hours past 23 or minutes past 59. */
function offsetMs(zone: string): number | null {
  if (zone.toUpperCase() === 'Z') return 0;
  const hours = Number(zone.slice(1, 3));
  const minutes = Number(zone.slice(4, 6));
  if (hours > 23 || minutes > 59) return null;
  return (zone.startsWith('-') ? -1 : 1) * (hours * 60 + minutes) * 60_000;
}
