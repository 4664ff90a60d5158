// `kvs-infer bench --scenario media --width W`: the JPEGs come out at the size asked for, smaller than full size,
// and the report records the size, the bytes and the per-image times.

import t from 'tap';
import { mediaScenario } from '../../bench/scenarios/media.js';

interface ImageFigures {
  width: number;
  height: number;
  bytesMean: number;
  decodeMsMean: number;
  encodeMsMean: number;
  cpuMsMean: number;
}

t.test('media: --width resizes the JPEGs, keeping the aspect ratio, and reports their bytes and times', async (t) => {
  // Act: the 720p smoke clip through a pool of 1, at full size and 320 px wide.
  const full = await mediaScenario({ smoke: true, poolSizes: [1] });
  const small = await mediaScenario({ smoke: true, poolSizes: [1], imageWidth: 320 });

  // Assess
  const image = (report: typeof full) => (report.figures as { image: ImageFigures }).image;
  t.match(image(full), { width: 1280, height: 720 }, 'full size by default');
  t.match(image(small), { width: 320, height: 180 }, '320 px wide, the height following the aspect ratio');
  t.match(small.settings.output, { contentType: 'image/jpeg', quality: 80, width: 320 }, 'the request is recorded');
  t.notOk('width' in (full.settings.output as object), 'no width asked for at full size');
  t.ok(
    image(small).bytesMean > 0 && image(small).bytesMean < image(full).bytesMean / 4,
    `320 px JPEGs (${image(small).bytesMean.toFixed(0)} B) under a quarter of 1280 px ones ` +
      `(${image(full).bytesMean.toFixed(0)} B)`,
  );
  for (const report of [full, small])
    t.ok(
      image(report).decodeMsMean > 0 && image(report).encodeMsMean > 0 && image(report).cpuMsMean > 0,
      'decode, encode and CPU times',
    );
  t.ok(
    small.table.rows.some((row) => String(row[0]).startsWith('JPEG 320x180 at quality 80, bytes per I-frame')),
    'the table names the size',
  );
  t.ok(
    small.table.rows.some((row) => String(row[0]).startsWith('convert + resize + JPEG')),
    'and the resize among the costs',
  );
});
