// Builds Matroska bytes by hand for parser tests: documents, tags, clusters and blocks.

export type Payload = Uint8Array | string | number;

function vintSize(size: number): Buffer {
  // 8-byte sizes keep the builder simple; the parser must accept every valid length.
  const out = Buffer.alloc(8);
  out[0] = 0x01;
  out.writeUIntBE(size, 2, 6);
  return out;
}

function idBytes(id: number): Buffer {
  const length = id > 0xffffff ? 4 : id > 0xffff ? 3 : id > 0xff ? 2 : 1;
  const out = Buffer.alloc(length);
  out.writeUIntBE(id, 0, length);
  return out;
}

function payloadBytes(payload: Payload): Buffer {
  if (typeof payload === 'string') return Buffer.from(payload);
  if (typeof payload === 'number') {
    const out = Buffer.alloc(8);
    out.writeBigUInt64BE(BigInt(payload));
    return out;
  }
  return Buffer.from(payload);
}

/** An element with a known size. */
export function el(id: number, ...children: Payload[]): Buffer {
  const body = Buffer.concat(children.map(payloadBytes));
  return Buffer.concat([idBytes(id), vintSize(body.length), body]);
}

/** A master element of unknown size (as KVS writes Segments and Clusters). */
export function unknown(id: number, ...children: Uint8Array[]): Buffer {
  return Buffer.concat([idBytes(id), Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), ...children]);
}

export const ebmlHeader = (): Buffer => el(0x1a45dfa3, el(0x4282, 'matroska'));

export function tracks(
  ...entries: { number: number; type: number; codecId: string; width?: number; height?: number }[]
): Buffer {
  return el(
    0x1654ae6b,
    ...entries.map((t) =>
      el(
        0xae,
        el(0xd7, t.number),
        el(0x83, t.type),
        el(0x86, t.codecId),
        el(0x63a2, Uint8Array.of(1, 2, 3)),
        ...(t.width ? [el(0xe0, el(0xb0, t.width), el(0xba, t.height ?? 0))] : []),
      ),
    ),
  );
}

export const videoTrack = () => tracks({ number: 1, type: 1, codecId: 'V_MPEG4/ISO/AVC', width: 64, height: 48 });

export function tags(entries: Record<string, string>): Buffer {
  return el(
    0x1254c367,
    el(0x7373, ...Object.entries(entries).map(([name, value]) => el(0x67c8, el(0x45a3, name), el(0x4487, value)))),
  );
}

/** `flags`: more SimpleBlock flag bits (0x08 invisible, 0x01 discardable, 0x06 lacing). */
export function simpleBlock(
  track: number,
  relativeTimecode: number,
  keyframe: boolean,
  data: Uint8Array,
  flags = 0,
): Buffer {
  const header = Buffer.from([0x80 | track, 0, 0, (keyframe ? 0x80 : 0) | flags]);
  header.writeInt16BE(relativeTimecode, 1);
  return el(0xa3, header, data);
}

export function blockGroup(track: number, relativeTimecode: number, reference: boolean, data: Uint8Array): Buffer {
  const header = Buffer.from([0x80 | track, 0, 0, 0]);
  header.writeInt16BE(relativeTimecode, 1);
  return el(0xa0, el(0xa1, header, data), ...(reference ? [el(0xfb, Uint8Array.of(0xff))] : []));
}

export const clusterTimecode = (timecode: number): Buffer => el(0xe7, timecode);

/** One KVS-style fragment: its own EBML document, tags before and after an unknown-size cluster. */
export function kvsFragment(options: {
  fragmentNumber: string;
  serverTimestamp?: string;
  producerTimestamp?: string;
  millisBehindNow?: string;
  clusterTimecode: number;
  blocks: Uint8Array[];
}): Buffer {
  const before: Record<string, string> = { AWS_KINESISVIDEO_FRAGMENT_NUMBER: options.fragmentNumber };
  if (options.serverTimestamp) before.AWS_KINESISVIDEO_SERVER_TIMESTAMP = options.serverTimestamp;
  if (options.producerTimestamp) before.AWS_KINESISVIDEO_PRODUCER_TIMESTAMP = options.producerTimestamp;
  return Buffer.concat([
    ebmlHeader(),
    unknown(
      0x18538067,
      videoTrack(),
      tags(before),
      unknown(0x1f43b675, clusterTimecode(options.clusterTimecode), ...options.blocks),
      tags({
        AWS_KINESISVIDEO_MILLIS_BEHIND_NOW: options.millisBehindNow ?? '0',
        AWS_KINESISVIDEO_CONTINUATION_TOKEN: options.fragmentNumber,
      }),
    ),
  ]);
}
