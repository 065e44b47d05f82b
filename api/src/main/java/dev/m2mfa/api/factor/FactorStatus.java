package dev.m2mfa.api.factor;

/** The outcome of one factor in one login. */
public enum FactorStatus {
  /** The evidence was checked and holds. */
  PASS,
  /** Evidence was presented and does not hold. */
  FAIL,
  /** No evidence, or the factor is not set up for this machine. */
  ABSENT
}
