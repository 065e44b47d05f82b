package dev.m2mfa.authority.factor;

import dev.m2mfa.api.factor.FactorOutcome;
import dev.m2mfa.api.factor.VerificationContext;
import dev.m2mfa.authority.store.MachineRecord;
import java.util.Map;

/**
 * A factor whose verdict changes stored state (otp-chain rotates its secret, locks on a clone).
 * The login runs it last, inside one serializable store transaction together with the
 * decision, so a consumed secret can never be accepted twice, not even across a restart.
 */
public interface TransactionalFactor {
  /** How far a judgement may change state. */
  enum Mode {
    /** Every other factor passed: the state may advance and the response may carry new material. */
    ADVANCE,
    /** The key factor passed but another did not: detect and react (lock), never advance. */
    DETECT_ONLY
  }

  /**
   * Runs inside the caller's store transaction; must not call anything that waits on another
   * thread's use of the store (the audit log, the revocation push): put that in
   * {@link Judgement#afterCommit}.
   */
  Judgement judge(VerificationContext context, MachineRecord machine, Map<String, Object> untrustedEvidence, Mode mode);

  /**
   * @param response fields added to the successful login's response (nothing secret in clear)
   * @param afterCommit run once the transaction committed (audit, push, alerts)
   */
  record Judgement(FactorOutcome outcome, Map<String, Object> response, Runnable afterCommit) {
    public Judgement {
      response = Map.copyOf(response);
    }

    public static Judgement of(FactorOutcome outcome) {
      return new Judgement(outcome, Map.of(), () -> {});
    }
  }
}
