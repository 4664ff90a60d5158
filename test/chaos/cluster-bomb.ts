// A parser skip bomb planted in a GetMedia body on the wire: the next fragment's Cluster header (its id and
// 8-byte size, 12 bytes, as KVS writes it) becomes 9 bytes declaring a 1 TiB Void at Segment level, where the
// unknown-size Segment bounds nothing. Skipped without a limit, it swallows the rest of the connection.

import type { Rewriter } from './fault-proxy.js';

const CLUSTER_ID = Buffer.from([0x1f, 0x43, 0xb6, 0x75]);
/** The Cluster id and its 8-byte size: all of it must be in one chunk to be rewritten in place. */
const CLUSTER_HEADER_BYTES = 12;
/** Void (0xEC) with an 8-byte size of 2^40. The last 3 bytes of the old header become the Void's first content. */
const VOID_1_TIB = Buffer.from([0xec, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00]);
/** The fragment's number, from its leading tags: a TagString of digits after the TagName. */
const FRAGMENT_NUMBER = /AWS_KINESISVIDEO_FRAGMENT_NUMBER[\s\S]{0,16}?(\d{20,})/g;
/** Bytes of a connection kept to find the tags before a Cluster. */
const WINDOW_BYTES = 4096;

export class ClusterBomb {
  /** The fragment whose Cluster was turned into the bomb; null until it was. */
  fragmentNumber: string | null = null;

  /** For FaultProxy.rewriteDown: one rewriter per connection; the first Cluster seen on any of them is bombed, once. */
  readonly rewriter = (): Rewriter => {
    let recent = Buffer.alloc(0);
    return (chunk) => {
      const at = this.fragmentNumber === null ? chunk.indexOf(CLUSTER_ID) : -1;
      if (at >= 0 && at + CLUSTER_HEADER_BYTES <= chunk.length) {
        const tags = Buffer.concat([recent, chunk.subarray(0, at)]).toString('latin1');
        const number = [...tags.matchAll(FRAGMENT_NUMBER)].at(-1)?.[1];
        if (number !== undefined) {
          VOID_1_TIB.copy(chunk, at);
          this.fragmentNumber = number;
        }
      }
      recent = Buffer.concat([recent, chunk]).subarray(-WINDOW_BYTES);
    };
  };
}
