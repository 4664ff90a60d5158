// An independent reader to check the parser against: libavformat (through node-av) for frame
// counts, and a plain byte scan for the KVS tag values.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AV_LOG_QUIET, AVMEDIA_TYPE_VIDEO } from 'node-av/constants';
import { FormatContext, Log, Packet } from 'node-av/lib';

Log.setLevel(AV_LOG_QUIET);

/** Video packets and video keyframes as libavformat's Matroska demuxer counts them. */
export async function libavCounts(path: string): Promise<{ frames: number; keyframes: number }> {
  const ctx = new FormatContext();
  try {
    if ((await ctx.openInput(path)) < 0) throw new Error(`libavformat cannot open ${path}`);
    await ctx.findStreamInfo();
    const video = ctx.streams.find((s) => s.codecpar.codecType === AVMEDIA_TYPE_VIDEO);
    const packet = new Packet();
    packet.alloc();
    let frames = 0;
    let keyframes = 0;
    while ((await ctx.readFrame(packet)) >= 0) {
      if (packet.streamIndex === video?.index) {
        frames++;
        if (packet.isKeyframe) keyframes++;
      }
      packet.unref();
    }
    packet.free();
    return { frames, keyframes };
  } finally {
    await ctx.closeInput();
  }
}

/**
 * Presentation times of the video keyframes, ms from the first keyframe, rounded: what a replayed stream's frame
 * timecodes should be.
 */
export async function libavKeyframeTimes(path: string): Promise<number[]> {
  const ctx = new FormatContext();
  try {
    if ((await ctx.openInput(path)) < 0) throw new Error(`libavformat cannot open ${path}`);
    await ctx.findStreamInfo();
    const video = ctx.streams.find((s) => s.codecpar.codecType === AVMEDIA_TYPE_VIDEO);
    if (video === undefined) throw new Error(`${path} has no video stream`);
    const { num, den } = video.timeBase;
    const packet = new Packet();
    packet.alloc();
    const times: number[] = [];
    while ((await ctx.readFrame(packet)) >= 0) {
      if (packet.streamIndex === video.index && packet.isKeyframe) times.push((Number(packet.pts) * num * 1000) / den);
      packet.unref();
    }
    packet.free();
    return times.map((time) => Math.round(time - times[0]!));
  } finally {
    await ctx.closeInput();
  }
}

/** GetMedia output cut at each EBML header: one file per KVS fragment. */
export async function splitDocuments(bytes: Buffer, dir: string): Promise<string[]> {
  const magic = Buffer.from([0x1a, 0x45, 0xdf, 0xa3]);
  const starts: number[] = [];
  for (let at = bytes.indexOf(magic); at >= 0; at = bytes.indexOf(magic, at + 1)) starts.push(at);
  const paths: string[] = [];
  for (const [i, start] of starts.entries()) {
    const path = join(dir, `document-${i}.mkv`);
    await writeFile(path, bytes.subarray(start, starts[i + 1] ?? bytes.length));
    paths.push(path);
  }
  return paths;
}

/** Every value of a TagString that follows a TagName equal to `name`, found by scanning bytes. */
export function scanTagValues(bytes: Buffer, name: string): string[] {
  const values: string[] = [];
  const needle = Buffer.from(name);
  for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 1)) {
    let pos = at + needle.length;
    if (bytes[pos] !== 0x44 || bytes[pos + 1] !== 0x87) continue;
    pos += 2;
    const sizeLength = Math.clz32(bytes[pos]!) - 23;
    let size = bytes[pos]! & (0xff >> sizeLength);
    for (let i = 1; i < sizeLength; i++) size = size * 256 + bytes[pos + i]!;
    pos += sizeLength;
    values.push(bytes.subarray(pos, pos + size).toString('utf8'));
  }
  return values;
}
