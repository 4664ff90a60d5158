// KIT's fragmentMetaData and frameMetaData strings: the KVS parser library's FragmentMetadata and Frame as
// their Lombok @ToString prints them, on known values and on frames the parser read from hand-built KVS bytes.

import t from 'tap';
import { fragmentMetaData, frameMetaData, kitSource } from '../../../src/actors/pipeline/kit-fields.js';
import { MkvParser } from '../../../src/media/index.js';
import { kvsFragment, simpleBlock, tags } from '../../helpers/ebml-builder.js';
import { errorsOf, framesOf } from '../../helpers/parse.js';

const NUMBER = '91343852333181432392682062607743920146159169392';

t.test('a fragment KVS has closed: its millisBehindNow and continuation token as Java Optionals', async (t) => {
  // Act
  const text = fragmentMetaData(
    { fragmentNumber: NUMBER, serverTimestamp: 1763770000123, producerTimestamp: 1763769999800 },
    { millisBehindNow: 412, continuationToken: NUMBER },
  );

  // Assess
  t.equal(
    text,
    `FragmentMetadata(fragmentNumberString=${NUMBER}, serverSideTimestampMillis=1763770000123, ` +
      `producerSideTimestampMillis=1763769999800, ` +
      `fragmentNumber=${NUMBER}, success=true, errorId=0, errorCode=null, ` +
      `millisBehindNow=OptionalLong[412], continuationToken=Optional[${NUMBER}])`,
  );
});

t.test(
  'a fragment still open (no millisBehindNow, no continuation token) and without a producer timestamp',
  async (t) => {
    // Act
    const text = fragmentMetaData(
      { fragmentNumber: NUMBER, serverTimestamp: 1763770000000, producerTimestamp: null },
      { millisBehindNow: null, continuationToken: null },
    );

    // Assess
    t.equal(
      text,
      `FragmentMetadata(fragmentNumberString=${NUMBER}, serverSideTimestampMillis=1763770000000, ` +
        `producerSideTimestampMillis=-1, ` +
        `fragmentNumber=${NUMBER}, success=true, errorId=0, errorCode=null, ` +
        `millisBehindNow=OptionalLong.empty, continuationToken=Optional.empty)`,
    );
  },
);

t.test(
  'timestamps are ceil(seconds x 1000) in doubles, as Java computes them; the BigInteger drops leading zeros',
  async (t) => {
    // Act: jshell prints 2188316328222 for (long) Math.ceil(Double.parseDouble("2188316328.221") * 1000L): the product
    // of a tag's double and 1000 may land just above the millisecond (and 1700000000124 for "1700000000.124").
    const text = fragmentMetaData(
      { fragmentNumber: '000123', serverTimestamp: 2188316328221, producerTimestamp: 1700000000124 },
      { millisBehindNow: 0, continuationToken: '123' },
    );

    // Assess
    t.match(
      text,
      new RegExp(
        /^FragmentMetadata\(fragmentNumberString=000123, serverSideTimestampMillis=2188316328222, /.source +
          /producerSideTimestampMillis=1700000000124, /.source,
      ),
    );
    t.match(text, /, fragmentNumber=123, /);
    t.match(text, /millisBehindNow=OptionalLong\[0\], continuationToken=Optional\[123\]\)$/);
  },
);

t.test('a frame: track, the relative block timecode, its flags, lacing NO', async (t) => {
  // Act
  const plain = frameMetaData({
    trackNumber: 1,
    blockTimecode: 0,
    keyframe: true,
    invisible: false,
    discardable: false,
  });
  const flagged = frameMetaData({
    trackNumber: 2,
    blockTimecode: -32768,
    keyframe: false,
    invisible: true,
    discardable: true,
  });

  // Assess
  t.equal(plain, 'Frame(trackNumber=1, timeCode=0, keyFrame=true, invisible=false, discardable=false, lacing=NO)');
  t.equal(
    flagged,
    'Frame(trackNumber=2, timeCode=-32768, keyFrame=false, invisible=true, discardable=true, lacing=NO)',
  );
});

t.test('from parsed KVS bytes: the block header, and the fragment as it stands when the string is made', async (t) => {
  // Prepare: a fragment with a keyframe and an invisible, discardable frame, read up to its closing tags
  const fragment = kvsFragment({
    fragmentNumber: NUMBER,
    serverTimestamp: '1763770000.123',
    producerTimestamp: '1763769999.8',
    millisBehindNow: '1500',
    clusterTimecode: 1_763_769_999_800,
    blocks: [simpleBlock(1, 0, true, Buffer.alloc(8, 1)), simpleBlock(1, 40, false, Buffer.alloc(8, 2), 0x09)],
  });
  const closing = tags({ AWS_KINESISVIDEO_MILLIS_BEHIND_NOW: '1500', AWS_KINESISVIDEO_CONTINUATION_TOKEN: NUMBER });
  const parser = new MkvParser();
  const frames = framesOf(parser.push(fragment.subarray(0, fragment.length - closing.length)));
  const kit = frames.map(kitSource);
  const { serverTimestamp, producerTimestamp } = frames[0]!.fragment;
  const fragmentNow = () =>
    fragmentMetaData(
      { fragmentNumber: NUMBER, serverTimestamp: serverTimestamp!, producerTimestamp },
      kit[0]!.fragment,
    );

  // Act
  const whileOpen = fragmentNow();
  const rest = parser.push(fragment.subarray(fragment.length - closing.length));
  const onceClosed = fragmentNow();

  // Assess
  t.same(errorsOf(rest), []);
  t.same(
    kit.map((k) => frameMetaData(k.block)),
    [
      'Frame(trackNumber=1, timeCode=0, keyFrame=true, invisible=false, discardable=false, lacing=NO)',
      'Frame(trackNumber=1, timeCode=40, keyFrame=false, invisible=true, discardable=true, lacing=NO)',
    ],
  );
  const head =
    `FragmentMetadata(fragmentNumberString=${NUMBER}, serverSideTimestampMillis=1763770000123, ` +
    `producerSideTimestampMillis=1763769999800, ` +
    `fragmentNumber=${NUMBER}, success=true, errorId=0, errorCode=null, `;
  t.equal(
    whileOpen,
    `${head}millisBehindNow=OptionalLong.empty, continuationToken=Optional.empty)`,
    'before the closing tags',
  );
  t.equal(
    onceClosed,
    `${head}millisBehindNow=OptionalLong[1500], continuationToken=Optional[${NUMBER}])`,
    'after them',
  );
  t.equal(Object.keys(kit[0]!.block).includes('data'), false, "the frame's bytes are not kept");
});
