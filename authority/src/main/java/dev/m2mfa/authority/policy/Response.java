package dev.m2mfa.authority.policy;

/**
 * What the authority does with a login, as decided by the policy. Ordered from mildest to
 * strongest; when several apply, the strongest wins.
 */
public enum Response {
  /** Issue the credentials; nothing else. */
  NONE,
  /** Issue the credentials and raise an operator alert (anomaly: alert, posture_mismatch: alert). */
  ALERT,
  /**
   * Issue the credentials of the highest level reached without the mismatching factor, if that
   * still meets what the login needs (posture_mismatch: step-down).
   */
  STEP_DOWN,
  /**
   * Refuse this login but tell the agent which {@code acr} (and factors) would pass; the agent
   * logs in again with the stronger factors (factor_failure: step-up, anomaly: step-up).
   */
  STEP_UP,
  /** Refuse this login (factor_failure: deny, an unknown class or requested acr). */
  DENY,
  /** Refuse and quarantine the identity until an operator acts (anomaly: quarantine). */
  QUARANTINE,
  /** Refuse, lock the identity, revoke its credentials and alert (clone). */
  LOCK
}
