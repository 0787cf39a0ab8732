// CertRenewal: what the schema and CEL cannot check (the controller reports these as InvalidSpec).
import type { CertRenewalSpec } from '../../crds/certrenewal.js';
import { parseDuration, type FieldError } from '../../crds/validate.js';
import type { CustomObject } from '../base.js';
import { DEFAULT_RENEW_BEFORE } from './defaults.js';

export function semantic(_obj: CustomObject<CertRenewalSpec>, spec: CertRenewalSpec): FieldError[] {
  const out: FieldError[] = [];
  if (spec.renewBefore !== undefined && spec.renewBeforePercentage !== undefined) {
    out.push({ field: 'spec.renewBefore', message: 'set renewBefore or renewBeforePercentage, not both' });
  }
  // A warning is for a renewal that did not happen in time, so it must come after the renewal was due.
  if (spec.renewBeforePercentage === undefined) {
    const renew = parseDuration(spec.renewBefore ?? DEFAULT_RENEW_BEFORE);
    const warn = parseDuration(spec.warnBefore);
    if (renew !== undefined && warn !== undefined && warn >= renew) {
      out.push({
        field: 'spec.warnBefore',
        message: `${spec.warnBefore} must be shorter than renewBefore ${spec.renewBefore ?? DEFAULT_RENEW_BEFORE}`,
      });
    }
  }
  return out;
}
