// The Matroska elements the parser understands, with their parents, so that unknown-size
// Segments and Clusters can be closed by the first element that cannot be their child.

export const ID = {
  EBML: 0x1a45dfa3,
  DocType: 0x4282,
  Segment: 0x18538067,
  SeekHead: 0x114d9b74,
  Info: 0x1549a966,
  TimecodeScale: 0x2ad7b1,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackType: 0x83,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  Video: 0xe0,
  PixelWidth: 0xb0,
  PixelHeight: 0xba,
  Cluster: 0x1f43b675,
  Timecode: 0xe7,
  SimpleBlock: 0xa3,
  BlockGroup: 0xa0,
  Block: 0xa1,
  ReferenceBlock: 0xfb,
  Cues: 0x1c53bb6b,
  Chapters: 0x1043a770,
  Attachments: 0x1941a469,
  Tags: 0x1254c367,
  Tag: 0x7373,
  SimpleTag: 0x67c8,
  TagName: 0x45a3,
  TagString: 0x4487,
  TagBinary: 0x4485,
  Void: 0xec,
  CRC32: 0xbf,
} as const;

/** How the parser treats an element's payload. */
export type ElementKind = 'master' | 'uint' | 'int' | 'string' | 'binary' | 'block';

interface ElementSpec {
  name: string;
  kind: ElementKind;
  /** Parents it may appear in; null means the top level. */
  parents: readonly (number | null)[];
}

const SEGMENT_CHILD = [ID.Segment, null] as const;

/** Elements read or descended into; any other element is skipped by its size. */
export const ELEMENTS: ReadonlyMap<number, ElementSpec> = new Map<number, ElementSpec>([
  [ID.Segment, { name: 'Segment', kind: 'master', parents: [null] }],
  [ID.Info, { name: 'Info', kind: 'master', parents: SEGMENT_CHILD }],
  [ID.TimecodeScale, { name: 'TimecodeScale', kind: 'uint', parents: [ID.Info] }],
  [ID.Tracks, { name: 'Tracks', kind: 'master', parents: SEGMENT_CHILD }],
  [ID.TrackEntry, { name: 'TrackEntry', kind: 'master', parents: [ID.Tracks] }],
  [ID.TrackNumber, { name: 'TrackNumber', kind: 'uint', parents: [ID.TrackEntry] }],
  [ID.TrackType, { name: 'TrackType', kind: 'uint', parents: [ID.TrackEntry] }],
  [ID.CodecID, { name: 'CodecID', kind: 'string', parents: [ID.TrackEntry] }],
  [ID.CodecPrivate, { name: 'CodecPrivate', kind: 'binary', parents: [ID.TrackEntry] }],
  [ID.Video, { name: 'Video', kind: 'master', parents: [ID.TrackEntry] }],
  [ID.PixelWidth, { name: 'PixelWidth', kind: 'uint', parents: [ID.Video] }],
  [ID.PixelHeight, { name: 'PixelHeight', kind: 'uint', parents: [ID.Video] }],
  [ID.Cluster, { name: 'Cluster', kind: 'master', parents: SEGMENT_CHILD }],
  [ID.Timecode, { name: 'Timecode', kind: 'uint', parents: [ID.Cluster] }],
  [ID.SimpleBlock, { name: 'SimpleBlock', kind: 'block', parents: [ID.Cluster] }],
  [ID.BlockGroup, { name: 'BlockGroup', kind: 'master', parents: [ID.Cluster] }],
  [ID.Block, { name: 'Block', kind: 'block', parents: [ID.BlockGroup] }],
  [ID.ReferenceBlock, { name: 'ReferenceBlock', kind: 'int', parents: [ID.BlockGroup] }],
  [ID.Tags, { name: 'Tags', kind: 'master', parents: SEGMENT_CHILD }],
  [ID.Tag, { name: 'Tag', kind: 'master', parents: [ID.Tags] }],
  [ID.SimpleTag, { name: 'SimpleTag', kind: 'master', parents: [ID.Tag, ID.SimpleTag] }],
  [ID.TagName, { name: 'TagName', kind: 'string', parents: [ID.SimpleTag] }],
  [ID.TagString, { name: 'TagString', kind: 'string', parents: [ID.SimpleTag] }],
  [ID.TagBinary, { name: 'TagBinary', kind: 'binary', parents: [ID.SimpleTag] }],
]);

/** Elements that are skipped, listed so that they can close an unknown-size parent and be accepted at the top level. */
const SKIPPED_LEVEL1: ReadonlySet<number> = new Set([ID.SeekHead, ID.Cues, ID.Chapters, ID.Attachments]);

/** Elements valid anywhere (EBML global elements). */
const GLOBAL: ReadonlySet<number> = new Set([ID.Void, ID.CRC32]);

/**
 * Whether `id` may appear directly inside `parent` (null: the top level). Unknown ids are allowed anywhere but the top
 * level.
 */
export function canBeChildOf(id: number, parent: number | null): boolean {
  if (GLOBAL.has(id)) return true;
  if (id === ID.EBML) return parent === null;
  if (SKIPPED_LEVEL1.has(id)) return parent === ID.Segment || parent === null;
  const spec = ELEMENTS.get(id);
  if (spec === undefined) return parent !== null;
  return spec.parents.includes(parent);
}

export function elementName(id: number): string {
  if (id === ID.EBML) return 'EBML';
  return ELEMENTS.get(id)?.name ?? `0x${id.toString(16).toUpperCase()}`;
}
