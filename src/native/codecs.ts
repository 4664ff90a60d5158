// Which libavcodec codec decodes a Matroska track, by its CodecID (Matroska codec mappings specification).

import type { AVCodecID } from 'node-av/constants';
import {
  AV_CODEC_ID_AV1,
  AV_CODEC_ID_DIRAC,
  AV_CODEC_ID_FFV1,
  AV_CODEC_ID_H264,
  AV_CODEC_ID_HEVC,
  AV_CODEC_ID_MJPEG,
  AV_CODEC_ID_MPEG1VIDEO,
  AV_CODEC_ID_MPEG2VIDEO,
  AV_CODEC_ID_MPEG4,
  AV_CODEC_ID_PRORES,
  AV_CODEC_ID_THEORA,
  AV_CODEC_ID_VP8,
  AV_CODEC_ID_VP9,
  AV_CODEC_ID_VVC,
} from 'node-av/constants';
import { FrameError } from './errors.js';

/**
 * Video CodecIDs whose blocks libavcodec decodes as they are, with CodecPrivate as extradata.
 * Left out: V_MS/VFW/FOURCC and V_QUICKTIME (the codec hides in a header), V_UNCOMPRESSED
 * (needs the colour-space element), V_REAL/* (needs RealMedia framing).
 */
export const MATROSKA_VIDEO_CODECS: ReadonlyMap<string, AVCodecID> = new Map([
  ['V_MPEG4/ISO/AVC', AV_CODEC_ID_H264],
  ['V_MPEGH/ISO/HEVC', AV_CODEC_ID_HEVC],
  ['V_MPEGI/ISO/VVC', AV_CODEC_ID_VVC],
  ['V_AV1', AV_CODEC_ID_AV1],
  ['V_VP8', AV_CODEC_ID_VP8],
  ['V_VP9', AV_CODEC_ID_VP9],
  ['V_MPEG1', AV_CODEC_ID_MPEG1VIDEO],
  ['V_MPEG2', AV_CODEC_ID_MPEG2VIDEO],
  ['V_MPEG4/ISO/SP', AV_CODEC_ID_MPEG4],
  ['V_MPEG4/ISO/ASP', AV_CODEC_ID_MPEG4],
  ['V_MPEG4/ISO/AP', AV_CODEC_ID_MPEG4],
  ['V_MJPEG', AV_CODEC_ID_MJPEG],
  ['V_THEORA', AV_CODEC_ID_THEORA],
  ['V_PRORES', AV_CODEC_ID_PRORES],
  ['V_FFV1', AV_CODEC_ID_FFV1],
  ['V_DIRAC', AV_CODEC_ID_DIRAC],
]);

/** The libavcodec codec for a Matroska CodecID; UNSUPPORTED_CODEC names the id when there is none. */
export function ffmpegCodecId(codecId: string): AVCodecID {
  const id = MATROSKA_VIDEO_CODECS.get(codecId);
  if (id === undefined) throw new FrameError('UNSUPPORTED_CODEC', `unsupported codec "${codecId}"`);
  return id;
}
