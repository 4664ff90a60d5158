// The models the local server can run: `detector` (CenterNet COCO on tfjs + wasm) and `fixed`
// (hash-derived answers after a set delay). A new backend implements `Backend` from ../types.ts.

export { decodeBmp, isBmp, type RgbPicture } from './bmp.js';
export { type DecodeOptions, decodeCenterNet, iou, nonMaxSuppression, type Prediction } from './centernet-decode.js';
export { COCO_LABELS, type CocoLabel } from './coco-labels.js';
export { DetectorBackend, type DetectorOptions, defaultCenterNetPath } from './detector.js';
export { FixedBackend, type FixedOptions, fixedPrediction } from './fixed.js';
export { objectDetectionJson } from './object-detection.js';
