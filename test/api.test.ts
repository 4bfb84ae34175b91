// The package root exports the documented library API (README "Library API").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as lib from '../src/index.js';

test('the README API is exported from the package root', () => {
  const names = [
    'initBackend',
    'Generator',
    'Discriminator',
    'Rng',
    'rooted',
    'logistic',
    'gMainLoss',
    'dMainLoss',
    'r1RegLoss',
    'plRegLoss',
    'dLogits',
    'paramGradients',
    'gradientsToUpstream',
    'loadNetwork',
    'buildGenerator',
    'buildDiscriminator',
    'saveCheckpoint',
    'finetune',
    'Trainer',
    'AugmentPipe',
    'generateImages',
    'styleMix',
    'InceptionV3',
    'loadInceptionWeights',
    'folderFeatures',
    'generatorFeatures',
    'distances',
    'compareRuns',
    'fetchNetwork',
    'loadFeatureNetwork',
    'EmojiNet',
    'aggregate',
    'welch',
    'bootstrapDiffCI',
    'adamUpdate',
  ];
  for (const n of names) assert.equal(typeof (lib as Record<string, unknown>)[n], 'function', n);
});
