package dev.m2mfa.authority.policy;

/** Events a login can carry besides its factor results; each class says how it responds. */
public enum PolicyEvent {
  /** A factor saw two lineages of the same identity (otp-chain): always {@code lock}. */
  CLONE,
  /** The behavior engine flagged this machine: {@code alert}, {@code step-up} or {@code quarantine}. */
  ANOMALY
}
