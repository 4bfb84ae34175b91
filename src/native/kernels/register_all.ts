// Registers every native kernel on tfjs' cpu backend, as tfjs' register_all_kernels does: one file
// per kernel registration in this folder. The project's own kernels (RloBiasAct, RloUpFirDn2d,
// RloSparseMap, RloAdamUpdate) are new; the others replace tfjs' pure-JS kernel of the same name
// for the cases they take (NHWC, float32) and defer to it otherwise. Gradients are unchanged:
// tfjs' gradient functions call these kernels by name.
import type { NativeAddon } from '../contracts.js';
import { registerBiasAct } from './bias_act.js';
import { registerUpFirDn2d } from './upfirdn2d.js';
import { registerSparseMap } from './sparse_map.js';
import { registerAdamUpdate } from './adam_update.js';
import { registerBinaryOps } from './binary.js';
import { registerReductions } from './reduce.js';
import { registerTranspose } from './transpose.js';
import { registerTile } from './tile.js';
import { registerSlice } from './slice.js';
import { registerUnpackSplit } from './unpack_split.js';
import { registerConv2D } from './conv2d.js';
import { registerConv2DBackpropInput } from './conv2d_backprop_input.js';
import { registerConv2DBackpropFilter } from './conv2d_backprop_filter.js';
import { registerDepthwiseConv2d } from './depthwise_conv2d.js';
import { registerPools } from './pool.js';
import { registerBatchMatMul } from './batch_mat_mul.js';

export function registerNativeKernels(addon: NativeAddon): void {
  for (const register of [
    registerBiasAct,
    registerUpFirDn2d,
    registerSparseMap,
    registerAdamUpdate,
    registerBinaryOps,
    registerReductions,
    registerTranspose,
    registerTile,
    registerSlice,
    registerUnpackSplit,
    registerConv2D,
    registerConv2DBackpropInput,
    registerConv2DBackpropFilter,
    registerDepthwiseConv2d,
    registerPools,
    registerBatchMatMul,
  ])
    register(addon);
}
