// A copy of a config (or any raw document) safe to log: values under keys that look like secrets
// are replaced. KIT's keys hold none, but users' extra keys might.

const SECRET_KEY = /secret|password|passwd|token|credential|api[-_]?key|private[-_]?key|authorization/i;

export const REDACTED = '[redacted]';

/** Deep copy of `value` with every property whose name looks secret replaced by `[redacted]`. */
export function redactConfig<T>(value: T): T {
  return redact(value) as T;
}

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (typeof value !== 'object' || value === null) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    copy[key] = SECRET_KEY.test(key) ? REDACTED : redact(inner);
  }
  return copy;
}
