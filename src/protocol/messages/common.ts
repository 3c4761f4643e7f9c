import { str, type Validators } from './check.ts';

/** The end of a request's answers, where nothing else marks it. */
export interface Done { t: 'done' }
/** A request-level failure; the session stays up. */
export interface StreamError { t: 'error'; code: string; message: string; hint?: string }

export type CommonMessage = Done | StreamError;

export const COMMON_VALIDATORS: Validators<CommonMessage> = {
  done() {},
  error(o) {
    str(o, 'code');
    str(o, 'message');
    str(o, 'hint', true);
  },
};
