// Options that several commands share, declared once: the backend (one default for every command:
// $STYLEGAN_RLO_BACKEND, else auto, resolved by initBackend), and the options of the commands that
// evaluate feature distances.
import { BACKEND_CHOICES } from '../backend.js';
import { FEATURE_KINDS } from '../metrics/features.js';

export const BACKEND_OPTION = { choices: BACKEND_CHOICES, defaultDescription: '$STYLEGAN_RLO_BACKEND or auto', describe: 'Compute backend' } as const;

export const FEATURES_OPTION = {
  choices: FEATURE_KINDS,
  default: 'inception' as const,
  describe: 'Feature network: inception (FID/KID, needs the Inception weights) or emoji (FED/KED, the bundled emoji network)',
};

/** Images per feature-network batch. */
export const FEATURE_BATCH_OPTION = { type: 'number', default: 16, describe: 'Images per Inception batch' } as const;

/** Where a network argument may come from, for --network's description. */
export const NETWORK_SOURCES = 'a file, a run directory (its latest snapshot) or a manifest name';
