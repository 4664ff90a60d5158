// The Matroska CodecID to libavcodec mapping, and that this FFmpeg build decodes every mapped codec.

import { AV_CODEC_ID_H264, AV_CODEC_ID_HEVC } from 'node-av/constants';
import { Codec } from 'node-av/lib';
import t from 'tap';
import { FrameError, ffmpegCodecId, MATROSKA_VIDEO_CODECS } from '../../src/native/index.js';

t.test('H.264 and H.265 tracks map to the h264 and hevc codecs', async (t) => {
  t.equal(ffmpegCodecId('V_MPEG4/ISO/AVC'), AV_CODEC_ID_H264);
  t.equal(ffmpegCodecId('V_MPEGH/ISO/HEVC'), AV_CODEC_ID_HEVC);
});

t.test('every mapped codec has a decoder in the bundled FFmpeg', async (t) => {
  for (const [codecId, id] of MATROSKA_VIDEO_CODECS) {
    t.ok(Codec.findDecoder(id), `${codecId} -> ${Codec.findDecoder(id)?.name ?? 'none'}`);
  }
});

t.test('an unknown or audio CodecID is UNSUPPORTED_CODEC naming it', async (t) => {
  for (const codecId of ['V_MS/VFW/FOURCC', 'A_AAC', '', 'v_mpeg4/iso/avc']) {
    // Act
    const error = (() => {
      try {
        ffmpegCodecId(codecId);
        return undefined;
      } catch (e) {
        return e;
      }
    })();

    // Assess
    t.ok(error instanceof FrameError, `"${codecId}" throws a FrameError`);
    t.match(error, { code: 'UNSUPPORTED_CODEC', message: `"${codecId}"` });
  }
});
