// node --import dist/test/fake_tfjs_node_register.js: @tensorflow/tfjs-node and -gpu resolve to
// test/fake_tfjs_node.ts, so that the suite can run "with tfjs-node present" anywhere.
import { register } from 'node:module';

const fake = new URL('./fake_tfjs_node.js', import.meta.url).href;
const hooks = `export async function resolve(specifier, context, next) {
  if (specifier === '@tensorflow/tfjs-node' || specifier === '@tensorflow/tfjs-node-gpu') return { url: ${JSON.stringify(fake)}, shortCircuit: true };
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
