// ImageRequest checks and output sizes: pure functions, run on the caller's thread before any work is queued.

import fc from 'fast-check';
import t from 'tap';
import {
  FrameError,
  IMAGE_CONTENT_TYPES,
  type ImageRequest,
  isImageContentType,
  MAX_IMAGE_DIMENSION,
  outputSize,
  validateImageRequest,
} from '../../src/native/index.js';

const dimension = fc.integer({ min: 1, max: MAX_IMAGE_DIMENSION });

t.test('isImageContentType accepts exactly the five endpoint content types', async (t) => {
  // Act
  const accepted = [
    'image/jpeg',
    'application/x-image',
    'image/png',
    'image/bmp',
    'image/gif',
    'image/webp',
    'IMAGE/JPEG',
    '',
    7,
    null,
  ].filter(isImageContentType);

  // Assess
  t.same(accepted, [...IMAGE_CONTENT_TYPES]);
});

t.test('valid requests pass: any content type, sizes 1 to MAX_IMAGE_DIMENSION, quality 1 to 100', async (t) => {
  const request = fc.record(
    {
      contentType: fc.constantFrom(...IMAGE_CONTENT_TYPES),
      width: dimension,
      height: dimension,
      quality: fc.integer({ min: 1, max: 100 }),
    },
    { requiredKeys: ['contentType'] },
  );

  // Act and Assess: validateImageRequest throws on any failure.
  t.doesNotThrow(() => fc.assert(fc.property(request, (r) => validateImageRequest(r))));
});

t.test('invalid requests are BAD_IMAGE_REQUEST, saying what is wrong', async (t) => {
  const cases: [unknown, RegExp][] = [
    [{ contentType: 'image/tiff' }, /content type "image\/tiff"/],
    [{ contentType: 'image/png', width: 0 }, /width must be an integer from 1/],
    [{ contentType: 'image/png', width: -5 }, /width/],
    [{ contentType: 'image/png', height: 2.5 }, /height/],
    [{ contentType: 'image/png', height: MAX_IMAGE_DIMENSION + 1 }, /height/],
    [{ contentType: 'image/png', width: Number.NaN }, /width/],
    [{ contentType: 'image/jpeg', quality: 0 }, /quality must be an integer from 1 to 100, got 0/],
    [{ contentType: 'image/jpeg', quality: 80.5 }, /quality/],
  ];
  for (const [request, message] of cases) {
    // Act
    const error = (() => {
      try {
        validateImageRequest(request as ImageRequest);
        return undefined;
      } catch (e) {
        return e;
      }
    })();

    // Assess
    t.ok(error instanceof FrameError, `${JSON.stringify(request)} throws a FrameError`);
    t.match(error, { code: 'BAD_IMAGE_REQUEST', message });
  }
});

t.test('outputSize: no size keeps the picture, both sides are taken as given', async (t) => {
  t.same(outputSize(1920, 1080, { contentType: 'image/jpeg' }), { width: 1920, height: 1080 });
  t.same(outputSize(1920, 1080, { contentType: 'image/jpeg', width: 300, height: 300 }), { width: 300, height: 300 });
  t.same(outputSize(1280, 720, { contentType: 'image/jpeg', width: 640 }), { width: 640, height: 360 });
  t.same(outputSize(1280, 720, { contentType: 'image/jpeg', height: 480 }), { width: 853, height: 480 });
});

t.test('outputSize: one side given keeps the aspect ratio to within rounding, never below 1 pixel', async (t) => {
  const keepsAspect = fc.property(
    dimension,
    dimension,
    dimension,
    fc.boolean(),
    (pictureWidth, pictureHeight, side, byWidth) => {
      // Act
      const request: ImageRequest = byWidth
        ? { contentType: 'image/png', width: side }
        : { contentType: 'image/png', height: side };
      const { width, height } = outputSize(pictureWidth, pictureHeight, request);

      // Assess
      const [given, derived, exact] = byWidth
        ? [width, height, (side * pictureHeight) / pictureWidth]
        : [height, width, (side * pictureWidth) / pictureHeight];
      return given === side && derived >= 1 && Math.abs(derived - Math.max(1, exact)) <= 0.5 + Number.EPSILON * exact;
    },
  );
  t.doesNotThrow(() => fc.assert(keepsAspect));
});
