// Small validators for config values: each checks one value and either returns it typed or
// throws `Invalid` with a sentence that names the key and shows the value it got.

/** Thrown by a rule; parseConfig collects these into one ConfigError. */
export class Invalid extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

/** Lets a rule report something odd that is not worth refusing the config over. */
export interface RuleContext {
  warn(key: string, message: string): void;
}

export type Rule<T> = (value: unknown, key: string, ctx: RuleContext) => T;

const SHOWN_CHARS = 60;

/** The value as the user wrote it (JSON), cut short so that a huge value does not bury the message. */
export function show(value: unknown): string {
  let text: string;
  try {
    text =
      typeof value === 'number' || typeof value === 'bigint' ? String(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}...` : text;
}

const absent = (value: unknown): value is undefined | null => value === undefined || value === null;

/** JSON null counts as absent too, so that templates can write `null` for "use the default". */
export const withDefault =
  <T, D>(rule: Rule<T>, fallback: D): Rule<T | D> =>
  (value, key, ctx) =>
    absent(value) ? fallback : rule(value, key, ctx);

export const required =
  <T>(rule: Rule<T>): Rule<T> =>
  (value, key, ctx) => {
    if (value === undefined) throw new Invalid(key, `${key} is required`);
    return rule(value, key, ctx);
  };

export function integer(min: number, max?: number): Rule<number> {
  const what =
    max !== undefined
      ? `an integer from ${min} to ${max}`
      : min === 1
        ? 'a positive integer'
        : min === 0
          ? 'a non-negative integer'
          : `an integer of at least ${min}`;
  return (value, key) => {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && (max === undefined || value <= max))
      return value;
    throw new Invalid(key, `${key} must be ${what}, got ${show(value)}`);
  };
}

/** A finite number from `min` to `max`, fractions allowed (a price). */
export function decimal(min: number, max: number): Rule<number> {
  return (value, key) => {
    if (typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max) return value;
    throw new Invalid(key, `${key} must be a number from ${min} to ${max}, got ${show(value)}`);
  };
}

export const booleanValue: Rule<boolean> = (value, key) => {
  if (typeof value === 'boolean') return value;
  throw new Invalid(key, `${key} must be true or false, got ${show(value)}`);
};

/** A string matching `pattern` (which should bound the length too); `what` completes "must be ...". */
export function text(pattern: RegExp, what: string): Rule<string> {
  return (value, key) => {
    if (typeof value === 'string' && pattern.test(value)) return value;
    throw new Invalid(key, `${key} must be ${what}, got ${show(value)}`);
  };
}

export const nonEmptyText: Rule<string> = (value, key) => {
  if (typeof value === 'string' && value.trim() !== '') return value;
  throw new Invalid(key, `${key} must be a non-empty string, got ${show(value)}`);
};

export function oneOf<const T extends string>(choices: readonly T[]): Rule<T> {
  return (value, key) => {
    if ((choices as readonly unknown[]).includes(value)) return value as T;
    throw new Invalid(
      key,
      `${key} must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}, got ${show(value)}`,
    );
  };
}

/** An array whose items each pass `item`; items are named `key[i]`. */
export function list<T>(item: Rule<T>, what: string): Rule<T[]> {
  return (value, key, ctx) => {
    if (!Array.isArray(value)) throw new Invalid(key, `${key} must be an array of ${what}, got ${show(value)}`);
    return value.map((v, i) => item(v, `${key}[${i}]`, ctx));
  };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
