package dev.m2mfa.authority.policy;

import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * One assurance level of a machine class.
 *
 * <p>Levels are cumulative: a machine reaches a level when this level's groups AND the groups
 * of every lower level of its class hold. So a higher {@code acr} always implies everything a
 * lower one required, which is what lets a relying service compare {@code acr} values by
 * order alone.
 *
 * @param name the level's name; the {@code acr} is {@code m2mfa:<name>}
 * @param rank 0 for the lowest level of the class, then 1, 2, ...
 * @param groups what this level adds; all must hold (never empty)
 * @param tokenLifetime access-token lifetime at this level (1 s to 300 s)
 * @param certificateLifetime machine-certificate lifetime at this level (60 s to 24 h)
 */
public record Level(String name, int rank, List<FactorGroup> groups, Duration tokenLifetime, Duration certificateLifetime) {
  /** The prefix of every m2mfa {@code acr} value. */
  public static final String ACR_PREFIX = "m2mfa:";
  public static final Duration MIN_TOKEN_LIFETIME = Duration.ofSeconds(1);
  public static final Duration MAX_TOKEN_LIFETIME = Duration.ofSeconds(300);
  public static final Duration MIN_CERTIFICATE_LIFETIME = Duration.ofSeconds(60);
  public static final Duration MAX_CERTIFICATE_LIFETIME = Duration.ofHours(24);

  public Level {
    groups = List.copyOf(groups);
    if (groups.isEmpty()) throw new IllegalArgumentException("level " + name + " requires nothing");
    if (tokenLifetime.compareTo(MIN_TOKEN_LIFETIME) < 0 || tokenLifetime.compareTo(MAX_TOKEN_LIFETIME) > 0) {
      throw new IllegalArgumentException("token lifetime out of bounds");
    }
    if (certificateLifetime.compareTo(MIN_CERTIFICATE_LIFETIME) < 0 || certificateLifetime.compareTo(MAX_CERTIFICATE_LIFETIME) > 0) {
      throw new IllegalArgumentException("certificate lifetime out of bounds");
    }
  }

  /** {@code m2mfa:<name>}. */
  public String acr() {
    return ACR_PREFIX + name;
  }

  /** Every factor this level's own groups name, in policy order. */
  public Set<String> factors() {
    Set<String> out = new LinkedHashSet<>();
    for (FactorGroup g : groups) out.addAll(g.of());
    return out;
  }
}
