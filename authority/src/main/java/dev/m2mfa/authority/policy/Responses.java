package dev.m2mfa.authority.policy;

import java.util.Objects;

/**
 * A class's answers to events ({@code on:} in the policy file).
 *
 * @param onClone always {@link Response#LOCK}
 * @param factorFailure {@link Response#DENY} or {@link Response#STEP_UP}: what a login below the
 *     needed level gets
 * @param anomaly {@link Response#ALERT}, {@link Response#STEP_UP} or {@link Response#QUARANTINE}
 * @param postureMismatch what a posture report that differs from the baseline does:
 *     {@link Response#DENY} (the factor fails), {@link Response#STEP_DOWN} (posture is challenged
 *     at every login of the class and a mismatch only costs the levels that count it) or
 *     {@link Response#ALERT} (challenged at every login; a mismatch is alerted and audited but
 *     counts as passed). Hostile or unverifiable posture evidence always fails.
 */
public record Responses(Response onClone, Response factorFailure, Response anomaly, Response postureMismatch) {
  public static final Responses DEFAULTS = new Responses(Response.LOCK, Response.DENY, Response.ALERT, Response.DENY);

  public Responses(Response onClone, Response factorFailure, Response anomaly) {
    this(onClone, factorFailure, anomaly, Response.DENY);
  }

  public Responses {
    Objects.requireNonNull(onClone);
    if (onClone != Response.LOCK) throw new IllegalArgumentException("clone must be lock");
    if (factorFailure != Response.DENY && factorFailure != Response.STEP_UP) throw new IllegalArgumentException("factor_failure must be deny or step-up");
    if (anomaly != Response.ALERT && anomaly != Response.STEP_UP && anomaly != Response.QUARANTINE) {
      throw new IllegalArgumentException("anomaly must be alert, step-up or quarantine");
    }
    if (postureMismatch != Response.DENY && postureMismatch != Response.STEP_DOWN && postureMismatch != Response.ALERT) {
      throw new IllegalArgumentException("posture_mismatch must be deny, step-down or alert");
    }
  }

  /** The policy-file spelling of a response: {@code step-up}, {@code deny}, ... */
  public static String spelling(Response r) {
    return r.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }
}
