// Test only, loaded with `node --import` into a CLI process: plants a GPU device error in a command
// that would otherwise run correctly. The WGSL of our upfirdn2d kernel (src/webgpu/kernels/) is
// made not to compile, at Dawn's createShaderModule, so its pipeline is invalid, every dispatch of
// it does nothing and the output stays zeros; only the device's uncapturederror event says so. That
// is how tfjs' own rank-5/6 pad failed before upfirdn2d's zero insertion became two rank-4 pads.
// The command must fail in one line, not write wrong images.
const { globals } = (await import('webgpu')) as unknown as { globals: { GPUDevice: { prototype: { createShaderModule: (d: { code: string }) => unknown } } } };
const proto = globals.GPUDevice.prototype;
const create = proto.createShaderModule;
proto.createShaderModule = function (this: unknown, d: { code: string }) {
  return create.call(this, d.code.includes('uniforms.upx') ? { ...d, code: `${d.code}\n  this does not compile;` } : d);
};
