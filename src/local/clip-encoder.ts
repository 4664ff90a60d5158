// Encodes a sequence of pictures into a Matroska clip in-process with node-av (libx264 / libx265, AAC),
// laid out as FFmpeg's matroska muxer writes them: avcC/hvcC CodecPrivate, length-prefixed NAL units.
// The demo clip and the test and benchmark fixtures are made with it.

import {
  AV_CHANNEL_LAYOUT_STEREO,
  AV_CODEC_FLAG_GLOBAL_HEADER,
  AV_PIX_FMT_YUV420P,
  AV_SAMPLE_FMT_FLTP,
  AVCOL_PRI_BT709,
  AVCOL_RANGE_MPEG,
  AVCOL_SPC_BT709,
  AVCOL_TRC_BT709,
  AVERROR_EAGAIN,
  AVERROR_EOF,
  FF_ENCODER_AAC,
  FF_ENCODER_LIBX264,
  FF_ENCODER_LIBX265,
} from 'node-av/constants';
import { Codec, CodecContext, FFmpegError, FormatContext, Frame, Packet, Rational, type Stream } from 'node-av/lib';
import { KvsInferError } from '../errors.js';

export type ClipCodec = 'h264' | 'hevc';

export interface ClipOptions {
  path: string;
  /** Default `h264`. */
  codec?: ClipCodec;
  /** Even, in pixels (4:2:0). Ignored when `videoless`. */
  width: number;
  height: number;
  /** Default 30. */
  fps?: number;
  /** A keyframe (IDR, closed GOP) every `fps * gopSeconds` frames and nowhere else. Default 1. */
  gopSeconds?: number;
  durationSeconds: number;
  /** Video bitrate, bits per second or with a k/M suffix (`'4M'`). Default `'1M'`. */
  bitrate?: number | string;
  /** Adds a stereo AAC track (a sine tone) beside the video. */
  audio?: boolean;
  /** Audio only: no video track at all. */
  videoless?: boolean;
  /** Tags the video BT.709 (limited range) in its VUI; by default colour is left unspecified, as many cameras do. */
  colorspace?: 'unspecified' | 'bt709';
  /** The picture of each frame index, packed yuv420p (Y plane, then U, then V); may reuse one buffer. */
  picture?: (index: number) => Buffer | Promise<Buffer>;
}

export interface ClipInfo {
  path: string;
  /** Null when videoless. */
  codec: ClipCodec | null;
  /** The Matroska CodecID of the video track, null when videoless. */
  codecId: string | null;
  /** 0 when videoless. */
  width: number;
  height: number;
  /** Video frames and video keyframes written. */
  frames: number;
  keyframes: number;
  fps: number;
}

type ClipErrorCode = 'CLIP_INVALID_OPTIONS' | 'CLIP_ENCODE_FAILED';

const ENCODERS = {
  // veryfast keeps libx264's default B-frames (3, adaptive) and CABAC, so the bitstream looks like real-world H.264.
  // No macroblock-tree ratecontrol: with it, repeated encodes in one process differ (x264 seems to read memory it
  // never wrote), and cameras' hardware encoders do without it anyway.
  h264: {
    encoder: FF_ENCODER_LIBX264,
    codecId: 'V_MPEG4/ISO/AVC',
    preset: 'veryfast',
    paramsKey: 'x264-params',
    extra: 'mbtree=0:log=-1',
  },
  // x265 defaults to open GOPs; close them so every keyframe decodes on its own.
  hevc: {
    encoder: FF_ENCODER_LIBX265,
    codecId: 'V_MPEGH/ISO/HEVC',
    preset: 'ultrafast',
    paramsKey: 'x265-params',
    extra: 'open-gop=0:log-level=error',
  },
} as const;

const AUDIO_RATE = 48_000;
const TONE_HZ = 440;

/** Encodes the clip to `options.path` and says what it wrote. */
export async function encodeClip(options: ClipOptions): Promise<ClipInfo> {
  const codec = options.codec ?? 'h264';
  const fps = options.fps ?? 30;
  const gop = Math.max(1, Math.round(fps * (options.gopSeconds ?? 1)));
  const videoless = options.videoless ?? false;
  const frames = videoless ? 0 : Math.round(options.durationSeconds * fps);
  validate(options, fps, videoless);

  const output = new FormatContext();
  const packet = new Packet();
  packet.alloc();
  const tracks: Track[] = [];
  try {
    check(output.allocOutputContext2(null, 'matroska', options.path), 'allocating the matroska muxer');
    if (!videoless) tracks.push(openVideo(output, options, codec, fps, gop));
    if (videoless || options.audio) tracks.push(openAudio(output));
    check(output.openOutputSync(), `opening ${options.path}`);
    check(output.writeHeaderSync(), 'writing the Matroska header');

    const [video, audio] = videoless ? [undefined, tracks[0]] : [tracks[0], tracks[1]];
    if (video) {
      if (!options.picture)
        throw new KvsInferError<ClipErrorCode>('CLIP_INVALID_OPTIONS', 'a clip with video needs a picture source');
      for (let i = 0; i < frames; i++) {
        // Audio up to the end of this frame first, so the muxer's interleaving queue stays short.
        if (audio) encodeAudioUntil(audio, (i + 1) / fps, output, packet);
        check(video.frame.makeWritable(), 'making a video frame writable');
        check(video.frame.fromBuffer(await options.picture(i)), 'filling a video frame');
        video.frame.pts = BigInt(i);
        send(video, video.frame, output, packet);
      }
    }
    if (audio) encodeAudioUntil(audio, videoless ? options.durationSeconds : frames / fps, output, packet);
    for (const track of tracks) send(track, null, output, packet);
    check(output.writeTrailerSync(), 'writing the Matroska trailer');
    return {
      path: options.path,
      codec: videoless ? null : codec,
      codecId: videoless ? null : ENCODERS[codec].codecId,
      width: videoless ? 0 : options.width,
      height: videoless ? 0 : options.height,
      frames,
      keyframes: video?.keyframes ?? 0,
      fps,
    };
  } finally {
    // Freed now, not whenever the GC gets to them: encoders hold threads and frame pools, the muxer an open file.
    for (const track of tracks.reverse()) {
      track.frame.free();
      track.context.freeContext();
    }
    packet.free();
    if (output.pb) output.closeOutputSync();
    output.freeContext();
  }
}

interface Track {
  context: CodecContext;
  stream: Stream;
  frame: Frame;
  /** Samples (audio) already sent. */
  sent: number;
  keyframes: number;
}

function validate(options: ClipOptions, fps: number, videoless: boolean): void {
  const evenPositive = (n: number) => Number.isInteger(n) && n > 0 && n % 2 === 0;
  if (!videoless && !(evenPositive(options.width) && evenPositive(options.height))) {
    throw new KvsInferError<ClipErrorCode>(
      'CLIP_INVALID_OPTIONS',
      `width and height must be positive even integers, got ${options.width}x${options.height}`,
    );
  }
  if (!(fps > 0 && options.durationSeconds > 0)) {
    throw new KvsInferError<ClipErrorCode>('CLIP_INVALID_OPTIONS', 'fps and durationSeconds must be positive');
  }
}

function openVideo(output: FormatContext, options: ClipOptions, codec: ClipCodec, fps: number, gop: number): Track {
  const spec = ENCODERS[codec];
  const encoder = Codec.findEncoderByName(spec.encoder);
  if (!encoder)
    throw new KvsInferError<ClipErrorCode>('CLIP_ENCODE_FAILED', `${spec.encoder} is not in this FFmpeg build`);
  const context = new CodecContext();
  context.allocContext3(encoder);
  context.width = options.width;
  context.height = options.height;
  context.pixelFormat = AV_PIX_FMT_YUV420P;
  context.timeBase = new Rational(1, fps);
  context.framerate = new Rational(fps, 1);
  context.gopSize = gop;
  context.bitRate = parseBitrate(options.bitrate ?? '1M');
  // A fixed thread count, not auto: the encoders' output depends on it, and fixtures should not depend on the core
  // count.
  context.threadCount = 4;
  if (options.colorspace === 'bt709') {
    context.colorSpace = AVCOL_SPC_BT709;
    context.colorPrimaries = AVCOL_PRI_BT709;
    context.colorTrc = AVCOL_TRC_BT709;
    context.colorRange = AVCOL_RANGE_MPEG;
  }
  context.setFlags(AV_CODEC_FLAG_GLOBAL_HEADER);
  // Options go on the context rather than through open2's dictionary: node-av 6.1.1 double-frees that dictionary.
  check(context.setOption('preset', spec.preset), 'setting the preset');
  // No scenecut keyframes, so the keyframe count is exactly ceil(frames / gop).
  check(
    context.setOption(spec.paramsKey, `keyint=${gop}:min-keyint=${gop}:scenecut=0:${spec.extra}`),
    `setting ${spec.paramsKey}`,
  );
  check(context.open2Sync(encoder, null), `opening ${spec.encoder}`);
  return addTrack(output, context, videoFrame(options));
}

function openAudio(output: FormatContext): Track {
  const encoder = Codec.findEncoderByName(FF_ENCODER_AAC);
  if (!encoder) throw new KvsInferError<ClipErrorCode>('CLIP_ENCODE_FAILED', 'aac is not in this FFmpeg build');
  const context = new CodecContext();
  context.allocContext3(encoder);
  context.sampleRate = AUDIO_RATE;
  context.sampleFormat = AV_SAMPLE_FMT_FLTP;
  context.channelLayout = AV_CHANNEL_LAYOUT_STEREO;
  context.timeBase = new Rational(1, AUDIO_RATE);
  context.bitRate = 96_000n;
  context.setFlags(AV_CODEC_FLAG_GLOBAL_HEADER);
  check(context.open2Sync(encoder, null), 'opening the aac encoder');
  const frame = new Frame();
  frame.alloc();
  frame.nbSamples = context.frameSize;
  frame.format = AV_SAMPLE_FMT_FLTP;
  frame.sampleRate = AUDIO_RATE;
  frame.channelLayout = AV_CHANNEL_LAYOUT_STEREO;
  check(frame.getBuffer(0), 'allocating an audio frame');
  return addTrack(output, context, frame);
}

function videoFrame(options: ClipOptions): Frame {
  const frame = new Frame();
  frame.alloc();
  frame.width = options.width;
  frame.height = options.height;
  frame.format = AV_PIX_FMT_YUV420P;
  check(frame.getBuffer(0), 'allocating a video frame');
  return frame;
}

function addTrack(output: FormatContext, context: CodecContext, frame: Frame): Track {
  const stream = output.newStream(null);
  check(context.parametersFromContext(stream.codecpar), 'copying codec parameters');
  stream.timeBase = context.timeBase;
  return { context, stream, frame, sent: 0, keyframes: 0 };
}

function encodeAudioUntil(track: Track, seconds: number, output: FormatContext, packet: Packet): void {
  const { frame } = track;
  const samples = frame.nbSamples;
  const planes = new Float32Array(2 * samples);
  while (track.sent < seconds * AUDIO_RATE) {
    for (let i = 0; i < samples; i++) {
      const value = 0.25 * Math.sin((2 * Math.PI * TONE_HZ * (track.sent + i)) / AUDIO_RATE);
      planes[i] = value;
      planes[samples + i] = value;
    }
    check(frame.makeWritable(), 'making an audio frame writable');
    check(frame.fromBuffer(Buffer.from(planes.buffer)), 'filling an audio frame');
    frame.pts = BigInt(track.sent);
    track.sent += samples;
    send(track, frame, output, packet);
  }
}

/** Sends one frame (null: end of stream) and writes every packet the encoder has ready. */
function send(track: Track, frame: Frame | null, output: FormatContext, packet: Packet): void {
  check(track.context.sendFrameSync(frame), 'encoding');
  for (;;) {
    const ret = track.context.receivePacketSync(packet);
    if (ret === AVERROR_EAGAIN || ret === AVERROR_EOF) return;
    check(ret, 'encoding');
    if (packet.isKeyframe) track.keyframes++;
    packet.streamIndex = track.stream.index;
    packet.rescaleTs(track.context.timeBase, track.stream.timeBase);
    check(output.interleavedWriteFrameSync(packet), 'writing a packet');
  }
}

function parseBitrate(bitrate: number | string): bigint {
  const match = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(String(bitrate));
  if (!match) throw new KvsInferError<ClipErrorCode>('CLIP_INVALID_OPTIONS', `bad bitrate ${bitrate}`);
  const scale = { '': 1, k: 1e3, m: 1e6 }[match[2]!.toLowerCase() as '' | 'k' | 'm'];
  return BigInt(Math.round(Number(match[1]) * scale));
}

function check(ret: number, what: string): void {
  if (ret < 0) {
    throw new KvsInferError<ClipErrorCode>('CLIP_ENCODE_FAILED', `${what}: ${FFmpegError.strerror(ret)}`, {
      cause: FFmpegError.fromCode(ret),
    });
  }
}
