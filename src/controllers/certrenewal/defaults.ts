// CertRenewal defaults shared by the controller's validation and the pure policy (kept apart so that neither imports
// the other).
export const DEFAULT_RENEW_BEFORE = '720h';
