// A stand-in for @tensorflow/tfjs-node(-gpu), for testing on machines where it cannot install:
// registers a 'tensorflow' backend that runs tfjs' own CPU kernels, as the real package
// registers libtensorflow's. Loaded only through test/fake_tfjs_node_register.ts.
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

if (!tf.findBackendFactory('tensorflow')) {
  tf.registerBackend(
    'tensorflow',
    () => {
      const b = new MathBackendCPU();
      (b as unknown as { firstUse: boolean }).firstUse = false;
      return Object.assign(b, { isUsingGpuDevice: false });
    },
    3,
  );
  for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'tensorflow' });
}
