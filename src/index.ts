// stylegan-rlo library API. Never imports the CLI.
export { initBackend, activeBackend, BACKEND_CHOICES } from './backend.js';
export type { BackendChoice, BackendInfo } from './backend.js';
export { Rng } from './rng.js';
export type { GeneratorConfig, DiscriminatorConfig, MappingKwargs, SynthesisKwargs } from './networks/config.js';
export { resolveGeneratorConfig, resolveDiscriminatorConfig } from './networks/config.js';
export { Generator } from './networks/generator.js';
export { Discriminator } from './networks/discriminator.js';
export { ParamStore } from './networks/params.js';
export type { NamedArray, ParamSpec } from './networks/params.js';
export type { NoiseMode, SynthesisForwardOptions } from './networks/synthesis.js';
export * from './losses/objectives.js';
export { r1Penalty, pathLengthPenalty } from './losses/regularizers.js';
export { gMainLoss, dMainLoss, r1RegLoss, plRegLoss, dLogits } from './losses/phases.js';
export { paramGradients, gradientsToUpstream, disposeGradients } from './losses/gradients.js';
export { biasAct } from './ops/bias_act.js';
export { upfirdn2d, setupFilter, upsample2d, downsample2d } from './ops/upfirdn2d.js';
export { conv2dResample } from './ops/conv2d_resample.js';
export { modulatedConv2d } from './ops/modulated_conv2d.js';
export { normalize2ndMoment, minibatchStd } from './ops/misc.js';
export { readSafetensors, writeSafetensors, parseSafetensors, serializeSafetensors } from './io/safetensors.js';
// Network files and checkpoints.
export { loadNetwork, parseNetwork, buildGenerator, buildDiscriminator } from './io/network.js';
export type { LoadedNetwork, NetworkFormat } from './io/network.js';
export { saveCheckpoint, serializeCheckpoint } from './io/checkpoint.js';
export type { CheckpointConfig } from './io/checkpoint.js';
export { describeNetwork, convertNetwork } from './io/inspect.js';
export { fetchNetwork, readManifest, cacheDir } from './io/fetch.js';
export { readTorchFile } from './io/torch.js';
export { unpickle } from './io/pickle.js';
export { ImageDataset } from './io/dataset.js';
// Training.
export { finetune } from './train/run.js';
export type { FinetuneArgs, RunHooks, RunResult } from './train/run.js';
export { Trainer } from './train/trainer.js';
export type { TrainerOptions } from './train/trainer.js';
export { AugmentPipe, AUGPIPES } from './train/augment.js';
// Generation and metrics.
export { generateImages, styleMix, seedLatents, parseRange } from './generate.js';
export { NumpyRandomState } from './numpy_random.js';
export { InceptionV3, imageFeatures, pytorchFidInput, nvidiaInput } from './metrics/inception.js';
export type { FidProtocol } from './metrics/inception.js';
export { loadInceptionWeights } from './metrics/weights.js';
export { folderFeatures, generatorFeatures, distances } from './metrics/evaluate.js';
export { featureStats, frechetDistance, frechetDistanceFromFeatures, kernelInceptionDistance } from './metrics/fid.js';
export { compareRuns, writeComparison, formatTable } from './metrics/compare.js';
