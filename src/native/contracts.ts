// The native addon's contract: every entry point with its typed arrays and one parameter object,
// whose fields native/napi_args.c reads by name into the C structs of native/kernels.h. A field
// that is missing or of the wrong type is a TypeError naming it, never a silent misread.

/** Convolution and pooling geometry (native/kernels.h ConvGeom). */
export interface ConvGeom {
  n: number;
  h: number;
  w: number;
  c: number; // input NHWC
  kh: number;
  kw: number;
  o: number; // filter height, width, output channels
  oh: number;
  ow: number; // output size
  sh: number;
  sw: number;
  dh: number;
  dw: number; // strides, dilations
  pt: number;
  pl: number; // padding top, left
}

export interface MatmulParams {
  batch: number;
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
  aBatched: boolean;
  bBatched: boolean;
}

/** act: 0 linear, 1 relu, 2 lrelu; clamp < 0 disables clamping. */
export interface BiasActParams {
  channels: number;
  act: number;
  alpha: number;
  gain: number;
  clamp: number;
}

/** `taps` in correlation order, already scaled; padx0/pady0 the leading padding. */
export interface UpFirDn2dParams {
  n: number;
  h: number;
  w: number;
  c: number;
  fh: number;
  fw: number;
  upx: number;
  upy: number;
  downx: number;
  downy: number;
  padx0: number;
  pady0: number;
  oh: number;
  ow: number;
}

/** Broadcasting over a collapsed output shape: strides are 0 on broadcast axes (rank <= 8). */
export interface BinaryParams {
  shape: number[];
  aStrides: number[];
  bStrides: number[];
}
/** outStrides are 0 on the reduced axes. */
export interface ReduceParams {
  shape: number[];
  outStrides: number[];
}
/** out[o] = x[base + sum_d ((o_d mod mods_d) * inStrides_d)]; mods_d = 0: no modulo. `shape` is the output's. */
export interface GatherParams {
  shape: number[];
  inStrides: number[];
  mods: number[];
  base: number;
}
/** One torch.optim.Adam step; `t` the step count after this step; apply = false copies the state. */
export interface AdamParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  t: number;
  apply: boolean;
}
/** Row-major C = alpha op(A) op(B) + beta C. */
export interface SgemmParams {
  m: number;
  n: number;
  k: number;
  lda: number;
  ldb: number;
  ldc: number;
  transA: boolean;
  transB: boolean;
}

/** The augmentation's sparse linear maps (src/ops/sparse_map.ts): p output rows of k taps over m input rows of c floats. */
export interface SparseMapParams {
  p: number;
  k: number;
  m: number;
  c: number;
  transpose: boolean;
}

/** Binary op codes of native/elementwise.c. */
export const BINARY_OPS = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, SquaredDifference: 6 } as const;

export interface NativeAddon {
  info(): string;
  conv2d(x: Float32Array, w: Float32Array, geom: ConvGeom, out: Float32Array): void;
  conv2dBackpropInput(dy: Float32Array, w: Float32Array, geom: ConvGeom, dx: Float32Array): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, geom: ConvGeom, dw: Float32Array): void;
  /** Channel multiplier 1: geom.o === geom.c, filter [kh, kw, c]. */
  depthwiseConv2d(x: Float32Array, f: Float32Array, geom: ConvGeom, out: Float32Array): void;
  matmul(a: Float32Array, b: Float32Array, params: MatmulParams, out: Float32Array): void;
  biasAct(x: Float32Array, b: Float32Array | null, params: BiasActParams, y: Float32Array, mask: Float32Array | null): void;
  upfirdn2d(x: Float32Array, taps: Float32Array, params: UpFirDn2dParams, out: Float32Array): void;
  binary(op: number, a: Float32Array, b: Float32Array, params: BinaryParams, out: Float32Array): void;
  reduceSum(x: Float32Array, params: ReduceParams, out: Float32Array): void;
  gather(x: Float32Array, params: GatherParams, out: Float32Array): void;
  pool2d(x: Float32Array, geom: ConvGeom, isMax: boolean, out: Float32Array): void;
  adamUpdate(
    p: Float32Array,
    m: Float32Array,
    v: Float32Array,
    g: Float32Array,
    params: AdamParams,
    p1: Float32Array,
    m1: Float32Array,
    v1: Float32Array,
  ): void;
  sparseMap(x: Float32Array, idx: Int32Array, w: Float32Array | null, params: SparseMapParams, out: Float32Array): void;
  sgemm(a: Float32Array, b: Float32Array, c: Float32Array, params: SgemmParams, alpha: number, beta: number): void;
  /** 'ours', 'ours:<kernel>', 'onednn' or 'openblas'; false when unavailable here. */
  gemmSelect(engine: string): boolean;
  gemmKernels(): string;
  gemmEngines(): string;
}
