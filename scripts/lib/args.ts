// The scripts' command-line arguments, parsed by yargs as the CLI's are (not by hand): `--name
// value` and `--name=value`, values kept as the text given (numbers are converted by the caller).
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';

const parsed = yargs(hideBin(process.argv))
  .help(false)
  .version(false)
  .parserConfiguration({ 'parse-numbers': false, 'parse-positional-numbers': false, 'boolean-negation': false })
  .parseSync() as { _: (string | number)[]; [k: string]: unknown };

/** The value of --name (the last one if given twice), or `def`. */
export function arg(name: string, def: string): string;
export function arg(name: string, def?: string): string | undefined;
export function arg(name: string, def?: string): string | undefined {
  const v = parsed[name];
  if (v === undefined || v === true) return def;
  return String(Array.isArray(v) ? v.at(-1) : v);
}

/** Whether --name was given (as a switch or with a value). */
export function flag(name: string): boolean {
  return parsed[name] !== undefined && parsed[name] !== false;
}

/** The i-th positional argument (after the script). */
export function positional(i: number): string | undefined {
  const v = parsed._[i];
  return v === undefined ? undefined : String(v);
}
