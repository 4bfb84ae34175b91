// Text for people, shared by the reports and the log: the one HTML/SVG escaper, and what a branch changed.
import type { BranchRecord } from '../records.js';

/** Text placed in an HTML/SVG element or attribute value. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** What a branch changed, for people: `styleMixing 0.9 -> 0, loss "rooted" -> "logistic"`. */
export function describeBranchChanges(changed: BranchRecord['changed']): string {
  return Object.entries(changed)
    .map(([k, [was, now]]) => `${k} ${JSON.stringify(was)} -> ${JSON.stringify(now)}`)
    .join(', ');
}
