// What every network reader returns: network kwargs plus upstream-named state dicts.
import type { DiscriminatorConfig, GeneratorConfig } from '../networks/config.js';
import type { NamedArray } from '../networks/params.js';
import type { StTensor } from './safetensors.js';

export type NetworkFormat = 'checkpoint' | 'pytorch-pickle' | 'tensorflow-pickle';

export interface LoadedNetwork {
  format: NetworkFormat;
  source: string;
  G_kwargs: GeneratorConfig;
  D_kwargs: DiscriminatorConfig | null;
  G: Map<string, NamedArray> | null;
  D: Map<string, NamedArray> | null;
  G_ema: Map<string, NamedArray> | null;
  training?: unknown; // a checkpoint's training record, unchecked: see trainingStateOf
  tensors?: Map<string, StTensor>; // all checkpoint tensors (optimizer state)
}
