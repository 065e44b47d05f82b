package dev.m2mfa.api.factor;

/** A factor outcome stamped by the host with the name of the factor that produced it. */
public record FactorResult(String factor, FactorStatus status, String reason) {
  public static FactorResult stamp(String factor, FactorOutcome outcome) {
    return new FactorResult(factor, outcome.status(), outcome.reason());
  }

  public boolean passed() {
    return status == FactorStatus.PASS;
  }
}
