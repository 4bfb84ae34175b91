// An error in an option a library function was given, worded with the option's name in it. The
// library names options by their keys (`options.resume`, `options.batchGpu`); the CLI, which
// knows each key's flag, words the same error with flags (`--resume`, `--batch-gpu`). Nothing
// below the CLI spells a flag.

/** How an option is named in a message: by the library (its key) or by the CLI (its flag). */
export type OptionName = (key: string) => string;

/** The library's name of an option: `options.<key>`. */
export const libraryOptionName: OptionName = (key) => `options.${key}`;

export class OptionError extends Error {
  /** `words` writes the message with options named by `name`. */
  constructor(readonly words: (name: OptionName) => string) {
    super(words(libraryOptionName));
    this.name = 'OptionError';
  }
}

/** The message of `e`, with options named by `name` when it is an OptionError. */
export function messageNaming(e: unknown, name: OptionName): string {
  if (e instanceof OptionError) return e.words(name);
  return (e as Error)?.message ?? String(e);
}
