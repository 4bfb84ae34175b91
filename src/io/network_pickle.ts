// Network pickles (upstream PyTorch and older TensorFlow). Implemented in pickle.ts / torch.ts.
import { LoadedNetwork } from './network.js';

export function loadNetworkPickle(buf: Uint8Array, source: string): LoadedNetwork {
  void buf;
  throw new Error(`${source}: reading network pickles is not implemented yet`);
}
