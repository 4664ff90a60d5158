// `kvs-infer probe <file|->`: one JSON document describing the tracks, fragments and errors of an input.

import { parseArgs } from 'node:util';
import { type Fragment, readMkv, type TrackInfo } from '../media/index.js';
import { openInput } from './files.js';

const TRACK_TYPES: Record<number, string> = {
  1: 'video',
  2: 'audio',
  3: 'complex',
  16: 'logo',
  17: 'subtitle',
  18: 'buttons',
  32: 'control',
  33: 'metadata',
};

export async function probe(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true });
  const tracks = new Map<string, ReturnType<typeof describeTrack>>();
  const fragments: Fragment[] = [];
  const errors: { code: string; message: string; offset: number | null }[] = [];
  const input = await openInput(positionals[0]);
  for await (const event of readMkv(input.chunks)) {
    if (event.type === 'tracks') {
      for (const track of event.tracks) {
        const described = describeTrack(track);
        tracks.set(JSON.stringify(described), described);
      }
    } else if (event.type === 'fragment') {
      fragments.push(event.fragment);
    } else if (event.type === 'error') {
      errors.push({ code: event.error.code, message: event.error.message, offset: event.error.offset });
    }
  }
  process.stdout.write(`${JSON.stringify({ tracks: [...tracks.values()], fragments, errors }, null, 2)}\n`);
  return errors.length === 0 ? 0 : 2;
}

function describeTrack(track: TrackInfo) {
  return {
    number: track.number,
    type: TRACK_TYPES[track.type] ?? String(track.type),
    codecId: track.codecId,
    width: track.width,
    height: track.height,
  };
}
