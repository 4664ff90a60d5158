// EBML variable-length integers: element ids keep their marker bit, sizes drop it.

/** Length in bytes of a vint from its first byte, or 0 when the first byte is 0 (longer than 8 bytes). */
export function vintLength(firstByte: number): number {
  return firstByte === 0 ? 0 : Math.clz32(firstByte) - 23;
}

/** Length of an element id from its first byte; 0 when longer than the 4 bytes Matroska allows. */
export function idLength(firstByte: number): number {
  const length = vintLength(firstByte);
  return length > 4 ? 0 : length;
}

export const UNKNOWN_SIZE = -1;

/**
 * Reads an element size of `length` bytes at `pos`: UNKNOWN_SIZE when every value bit is set,
 * Infinity when it exceeds what a double holds exactly (treated as too large by callers).
 */
export function readSize(buf: Uint8Array, pos: number, length: number): number {
  const mask = 0xff >> length;
  let value = buf[pos]! & mask;
  let allOnes = value === mask;
  for (let i = 1; i < length; i++) {
    const byte = buf[pos + i]!;
    allOnes &&= byte === 0xff;
    value = value * 256 + byte;
  }
  if (allOnes) return UNKNOWN_SIZE;
  return value > Number.MAX_SAFE_INTEGER ? Infinity : value;
}

export function readUint(buf: Uint8Array): number {
  let value = 0;
  for (let i = 0; i < buf.length; i++) value = value * 256 + buf[i]!;
  return value;
}
