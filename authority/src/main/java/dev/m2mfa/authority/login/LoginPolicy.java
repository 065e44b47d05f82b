package dev.m2mfa.authority.login;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What a login needs and what it earns, per machine class: the seam between the login
 * protocol ({@link LoginService}) and the policy that decides. The policy engine
 * ({@code dev.m2mfa.authority.policy}) implements it from policy files; {@link #legacy} keeps an
 * authority.conf with only {@code class.NAME=factors} lines working as before.
 */
public interface LoginPolicy {
  /**
   * The factors to challenge for a login of {@code machineClass} to {@code audience}, aiming at
   * {@code requestedAcr} (null: whatever the audience needs). Empty if the class is unknown.
   */
  Optional<List<String>> factorsToChallenge(String machineClass, String audience, String requestedAcr);

  /** Decides a login from the names of the factors that passed. */
  Decision decide(String machineClass, String audience, String requestedAcr, Set<String> passed);

  /** The class names this policy knows (join tokens may only name these). */
  Set<String> classes();

  /**
   * @param allowed whether a token may be issued
   * @param acr the level reached (token {@code acr}); null when nothing was reached
   * @param amr the factors the reached level counts, in challenge order
   * @param reason readable: what was missing, or which level was reached
   */
  record Decision(boolean allowed, String acr, List<String> amr, Duration tokenLifetime, Duration certificateLifetime, String reason) {
    public Decision {
      amr = List.copyOf(amr);
    }
  }

  /**
   * One level per class: every listed factor is required; {@code acr} is {@code m2mfa:Nfa}
   * with N the number of factors (at most 3).
   */
  static LoginPolicy legacy(java.util.Map<String, List<String>> classes, Duration tokenLifetime, Duration certificateLifetime) {
    java.util.Map<String, List<String>> copy = java.util.Map.copyOf(classes);
    return new LoginPolicy() {
      @Override
      public Optional<List<String>> factorsToChallenge(String machineClass, String audience, String requestedAcr) {
        return Optional.ofNullable(copy.get(machineClass));
      }

      @Override
      public Decision decide(String machineClass, String audience, String requestedAcr, Set<String> passed) {
        List<String> required = copy.get(machineClass);
        if (required == null) return new Decision(false, null, List.of(), tokenLifetime, certificateLifetime, "unknown machine class");
        List<String> missing = required.stream().filter(f -> !passed.contains(f)).toList();
        String acr = "m2mfa:" + Math.min(3, required.size()) + "fa";
        if (!missing.isEmpty()) {
          return new Decision(false, null, List.of(), tokenLifetime, certificateLifetime, "required factor did not pass: " + missing);
        }
        if (requestedAcr != null && !requestedAcr.equals(acr)) {
          return new Decision(false, null, List.of(), tokenLifetime, certificateLifetime,
              "requested acr " + requestedAcr + " is not a level of class " + machineClass);
        }
        return new Decision(true, acr, required, tokenLifetime, certificateLifetime, "all required factors passed");
      }

      @Override
      public Set<String> classes() {
        return copy.keySet();
      }
    };
  }
}
