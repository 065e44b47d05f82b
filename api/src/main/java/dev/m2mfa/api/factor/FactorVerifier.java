package dev.m2mfa.api.factor;

import java.util.Map;

/**
 * The authority side of a factor, found through {@link java.util.ServiceLoader}.
 *
 * <p>Contract: {@link #challenge} is called once per login for every factor the machine's
 * policy requires; {@link #verify} is called once with the evidence the agent returned for
 * this factor (an empty map if it sent none). Implementations are thread-safe, do not
 * throw for bad evidence (they return {@link FactorOutcome#fail}), and never put secret
 * material in a reason.
 */
public interface FactorVerifier {
  /** The factor's stable name, e.g. {@code key}; appears in {@code amr}. */
  String name();

  /** Challenge data for the agent (JSON-shaped: String, Number, Boolean, List, Map). */
  Map<String, Object> challenge(EnrolledMachine machine);

  FactorOutcome verify(VerificationContext context, Map<String, Object> untrustedEvidence);
}
