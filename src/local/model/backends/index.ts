// The models the local server can run: `detector` (CenterNet COCO on tfjs + wasm) and `fixed`
// (hash-derived answers after a set delay). A new backend implements `Backend` from ../types.ts.

export { DetectorBackend, defaultCenterNetPath, type DetectorOptions } from './detector.js';
export { FixedBackend, fixedPrediction, type FixedOptions } from './fixed.js';
export { COCO_LABELS, type CocoLabel } from './coco-labels.js';
export { objectDetectionJson } from './object-detection.js';
export { decodeCenterNet, nonMaxSuppression, iou, type DecodeOptions, type Prediction } from './centernet-decode.js';
export { decodeBmp, isBmp, type RgbPicture } from './bmp.js';
