// CertRenewal controller: validation (semantic.ts) and the capability on the seam (capability.ts): expiry tracking,
// renewal through cert-manager, reload of the consumers and proof that the endpoints serve the new certificate.
import { capabilityController } from '../../runtime/children-capability.js';
import { certRenewalCapability, optionsFromEnv } from './capability.js';

export { DEFAULT_RENEW_BEFORE } from './defaults.js';
export { semantic } from './semantic.js';

export const certRenewalController = capabilityController(certRenewalCapability(optionsFromEnv()));
