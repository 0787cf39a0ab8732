// CertRenewal controller: validation and the status contract. Tracking expiry and renewing is the CertRenewal
// capability, built on this.
import type { CertRenewalSpec } from '../../crds/certrenewal.js';
import { parseDuration, type FieldError } from '../../crds/validate.js';
import { specController, type CustomObject, type KindController } from '../base.js';
import { notImplemented } from '../status.js';

export const DEFAULT_RENEW_BEFORE = '720h';

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

/** Ready for a valid spec: the capability's own judgement replaces this when it lands. */
export const ready = notImplemented('CertRenewal', 'tracking expiry and renewing certificates');

export const certRenewalKind: KindController<CertRenewalSpec> = {
  kind: 'CertRenewal',
  semantic,
  ready,
};

export const certRenewalController = specController(certRenewalKind);
