// Face detection with YuNet (OpenCV Zoo, face_detection_yunet_2023mar.onnx, MIT), read from
// `<models>/face-restore/yunet/model.onnx`. Tensor contract, as OpenCV's FaceDetectorYN uses it:
// - input `input` float32 [1, 3, H, W]: BGR, 0–255, no normalisation; the 2023mar file fixes H = W = 640 (the
//   picture is scaled to fit and padded with zeros at the right and bottom); a dynamic-shape export gets the
//   picture padded to multiples of 32;
// - outputs cls_{8,16,32} [1, N, 1], obj_{s} [1, N, 1], bbox_{s} [1, N, 4], kps_{s} [1, N, 10], N = (H/s)·(W/s)
//   anchors in row-major order. Score = √(clamp(cls)·clamp(obj)); box centre (c + bbox0, r + bbox1)·s, size
//   exp(bbox2..3)·s; landmark k at (kps2k + c, kps2k+1 + r)·s: right eye, left eye, nose tip, right and left
//   mouth corner (the subject's right, so the first eye is the one on the picture's left).
import type { RgbImage } from '../images/encode.js';
import type { OnnxModel } from '../pipeline/onnx/onnx-session.js';
import { sampleInto, type Point } from './face-align.js';

/** Catalog ids of detectors: they live among the face-restore models but restore nothing. */
export const FACE_DETECTORS = ['yunet'] as const;
export const DEFAULT_FACE_DETECTOR = 'yunet';
const STRIDES = [8, 16, 32] as const;
const DYNAMIC_SIDE = 640;

export interface DetectedFace {
  box: { x: number; y: number; width: number; height: number };
  /** Right eye, left eye, nose tip, right and left mouth corner, in picture pixels. */
  landmarks: Point[];
  score: number;
}

export interface DetectOptions {
  /** OpenCV's demo uses 0.9, FaceFusion 0.5. */
  scoreThreshold?: number;
  nmsThreshold?: number;
  /** Faces whose eyes are closer than this many pixels are too small to restore (facexlib skips them too). */
  minEyeDistance?: number;
}

export interface OutputTensor {
  data: Float32Array;
}

/** Where the picture goes in the network's input: its scale and the padded input size. */
export function inputLayout(model: OnnxModel, image: { width: number; height: number }): { scale: number; width: number; height: number } {
  const shape = model.inputs[0]?.shape ?? [];
  const [h, w] = [shape[2], shape[3]];
  if (typeof h === 'number' && typeof w === 'number' && h > 0 && w > 0) {
    return { scale: Math.min(w / image.width, h / image.height), width: w, height: h };
  }
  const scale = Math.min(1, DYNAMIC_SIDE / Math.max(image.width, image.height));
  const pad = (n: number) => Math.ceil((n * scale) / 32) * 32;
  return { scale, width: pad(image.width), height: pad(image.height) };
}

/** The picture scaled by `scale` (bilinear), zero-padded to width × height, as BGR planes in 0–255. */
export function toYunetInput(image: RgbImage, layout: { scale: number; width: number; height: number }): Float32Array {
  const { scale, width, height } = layout;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  const w = Math.min(width, Math.round(image.width * scale));
  const h = Math.min(height, Math.round(image.height * scale));
  const rgb = new Float64Array(3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      sampleInto(image, (x + 0.5) / scale - 0.5, (y + 0.5) / scale - 0.5, rgb);
      // RGB → BGR planes
      out[y * width + x] = rgb[2] as number;
      out[plane + y * width + x] = rgb[1] as number;
      out[2 * plane + y * width + x] = rgb[0] as number;
    }
  }
  return out;
}

const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));

/** OpenCV's FaceDetectorYN post-processing (before NMS), in input-tensor pixels. */
export function decodeYunet(outputs: Record<string, OutputTensor>, width: number, height: number, scoreThreshold: number): DetectedFace[] {
  const faces: DetectedFace[] = [];
  for (const stride of STRIDES) {
    const cols = Math.floor(width / stride);
    const rows = Math.floor(height / stride);
    const get = (name: string, perAnchor: number): Float32Array => {
      const tensor = outputs[`${name}_${stride}`];
      if (!tensor) throw new Error(`the face detector has no output ${name}_${stride}; a YuNet (2023mar) model is expected`);
      if (tensor.data.length !== rows * cols * perAnchor) {
        throw new Error(`the face detector's ${name}_${stride} has ${tensor.data.length} values, ${rows * cols * perAnchor} expected for a ${width}×${height} input`);
      }
      return tensor.data;
    };
    const cls = get('cls', 1);
    const obj = get('obj', 1);
    const bbox = get('bbox', 4);
    const kps = get('kps', 10);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        const score = Math.sqrt(clamp01(cls[i] as number) * clamp01(obj[i] as number));
        if (score < scoreThreshold) continue;
        const cx = (c + (bbox[i * 4] as number)) * stride;
        const cy = (r + (bbox[i * 4 + 1] as number)) * stride;
        const w = Math.exp(bbox[i * 4 + 2] as number) * stride;
        const h = Math.exp(bbox[i * 4 + 3] as number) * stride;
        const landmarks = Array.from({ length: 5 }, (_, k) => ({ x: ((kps[i * 10 + 2 * k] as number) + c) * stride, y: ((kps[i * 10 + 2 * k + 1] as number) + r) * stride }));
        faces.push({ box: { x: cx - w / 2, y: cy - h / 2, width: w, height: h }, landmarks, score });
      }
    }
  }
  return faces;
}

function iou(a: DetectedFace['box'], b: DetectedFace['box']): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/** Greedy non-maximum suppression, best score first. */
export function suppress(faces: readonly DetectedFace[], threshold: number): DetectedFace[] {
  const kept: DetectedFace[] = [];
  for (const face of [...faces].sort((p, q) => q.score - p.score)) {
    if (kept.every((k) => iou(k.box, face.box) <= threshold)) kept.push(face);
  }
  return kept;
}

/** Faces in the picture, best first, in picture pixels. */
export async function detectFaces(model: OnnxModel, image: RgbImage, opts: DetectOptions = {}): Promise<DetectedFace[]> {
  const layout = inputLayout(model, image);
  const name = model.inputs[0]?.name ?? 'input';
  const outputs = await model.run({ [name]: { kind: 'float', dims: [1, 3, layout.height, layout.width], data: toYunetInput(image, layout) } });
  const found = suppress(decodeYunet(outputs, layout.width, layout.height, opts.scoreThreshold ?? 0.6), opts.nmsThreshold ?? 0.3);
  const back = (p: Point): Point => ({ x: p.x / layout.scale, y: p.y / layout.scale });
  return found
    .map((f) => {
      const corner = back(f.box);
      return {
        score: f.score,
        box: { x: corner.x, y: corner.y, width: f.box.width / layout.scale, height: f.box.height / layout.scale },
        landmarks: f.landmarks.map(back),
      };
    })
    .filter((f) => Math.hypot((f.landmarks[0] as Point).x - (f.landmarks[1] as Point).x, (f.landmarks[0] as Point).y - (f.landmarks[1] as Point).y) >= (opts.minEyeDistance ?? 5));
}
