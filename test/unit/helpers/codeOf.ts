import type { HerdError } from '../../../src/protocol/errors.ts';

/** The HerdError code a call throws, or "none": tests assert codes, not wording. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'none';
  } catch (err) {
    return (err as HerdError).code;
  }
}
