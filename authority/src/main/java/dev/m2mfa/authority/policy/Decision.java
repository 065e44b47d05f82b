package dev.m2mfa.authority.policy;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The policy's answer for one login. Issue credentials only if {@link #allowed()}; then use
 * {@link #acr()}, {@link #amr()}, {@link #tokenLifetime()} and {@link #certificateLifetime()}
 * as they are. Whatever the outcome, apply {@link #response()} and put {@link #reason()} in
 * the audit log (it names factors, never evidence).
 *
 * @param allowed whether credentials may be issued
 * @param machineClass the class evaluated
 * @param achievedLevel the highest level reached (levels are cumulative), empty if none
 * @param neededLevel the level this login needed: the audience's minimum, raised by a requested
 *     acr or an anomaly step-up; empty only for an unknown class
 * @param meetsAudience whether the achieved level is at or above the audience's minimum
 * @param meetsRequestedAcr whether the achieved level is at or above the requested acr (true
 *     when none was requested)
 * @param acr {@code m2mfa:<achieved level>}, empty if no level was reached
 * @param amr the passed factors that count toward the achieved level, in policy order
 * @param tokenLifetime the achieved level's token lifetime; {@link Duration#ZERO} when not allowed
 * @param certificateLifetime the achieved level's certificate lifetime; zero when not allowed
 * @param response what to do; {@link Response#NONE} or {@link Response#ALERT} when allowed
 * @param stepUpAcr with {@link Response#STEP_UP}: the acr the agent must come back with
 * @param stepUpFactors with {@link Response#STEP_UP}: the factors to challenge for it
 * @param reason a sentence for the audit log and the operator
 */
public record Decision(
    boolean allowed,
    String machineClass,
    Optional<String> achievedLevel,
    Optional<String> neededLevel,
    boolean meetsAudience,
    boolean meetsRequestedAcr,
    Optional<String> acr,
    List<String> amr,
    Duration tokenLifetime,
    Duration certificateLifetime,
    Response response,
    Optional<String> stepUpAcr,
    List<String> stepUpFactors,
    String reason) {
  public Decision {
    amr = List.copyOf(amr);
    stepUpFactors = List.copyOf(stepUpFactors);
    if (allowed && (response != Response.NONE && response != Response.ALERT)) {
      throw new IllegalArgumentException("an allowed login can only carry NONE or ALERT");
    }
    if (!allowed && (response == Response.NONE || response == Response.ALERT)) {
      throw new IllegalArgumentException("a refused login needs a refusing response");
    }
    if (allowed && acr.isEmpty()) throw new IllegalArgumentException("an allowed login needs an acr");
  }
}
