// BMP through libavcodec's `bmp` encoder: sharp (libvips) can read BMP but not write it.

import { AV_PIX_FMT_BGR24, FF_ENCODER_BMP } from 'node-av/constants';
import { Codec, CodecContext, type Frame, Packet, Rational } from 'node-av/lib';
import { FrameError } from './errors.js';
import { checkFFmpeg } from './ffmpeg-errors.js';

/** A 24-bit BMP file of `picture`, which must be BGR24. */
export function encodeBmp(picture: Frame): Buffer {
  const codec = Codec.findEncoderByName(FF_ENCODER_BMP);
  if (!codec) throw new FrameError('ENCODE_FAILED', 'this FFmpeg build has no bmp encoder');
  using encoder = new CodecContext();
  using packet = new Packet();
  encoder.allocContext3(codec);
  encoder.width = picture.width;
  encoder.height = picture.height;
  encoder.pixelFormat = AV_PIX_FMT_BGR24;
  encoder.timeBase = new Rational(1, 1);
  packet.alloc();
  checkFFmpeg(encoder.open2Sync(codec, null), 'ENCODE_FAILED', 'opening the bmp encoder');
  checkFFmpeg(encoder.sendFrameSync(picture), 'ENCODE_FAILED', 'encoding BMP');
  checkFFmpeg(encoder.receivePacketSync(packet), 'ENCODE_FAILED', 'encoding BMP');
  const data = packet.data;
  if (!data) throw new FrameError('ENCODE_FAILED', 'the bmp encoder returned no data');
  return data;
}
