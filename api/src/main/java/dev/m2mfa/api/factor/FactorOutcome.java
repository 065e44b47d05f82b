package dev.m2mfa.api.factor;

import java.util.Objects;

/**
 * What a factor verifier concludes, without a name: the host stamps the factor's name on it
 * ({@link FactorResult}), so one plug-in cannot speak for another.
 *
 * @param reason a short operator-facing sentence for the audit log; never secret material
 */
public record FactorOutcome(FactorStatus status, String reason) {
  public FactorOutcome {
    Objects.requireNonNull(status);
    Objects.requireNonNull(reason);
  }

  public static FactorOutcome pass(String reason) {
    return new FactorOutcome(FactorStatus.PASS, reason);
  }

  public static FactorOutcome fail(String reason) {
    return new FactorOutcome(FactorStatus.FAIL, reason);
  }

  public static FactorOutcome absent(String reason) {
    return new FactorOutcome(FactorStatus.ABSENT, reason);
  }
}
