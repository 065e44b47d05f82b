package dev.m2mfa.authority.store;

/**
 * A machine as stored. {@code publicKey} is base64 SPKI DER; {@code networks} comma-separated CIDRs.
 * {@code status} is {@code active}, {@code revoked} (an admin's decision) or {@code locked} (the
 * authority's, on a detected clone; only an admin unlocks or re-enrolls).
 */
public record MachineRecord(String name, String spiffeId, String policyClass, String publicKey, String keyThumbprint,
    String networks, String status, long enrolledAt, long updatedAt) {
  public static final String ACTIVE = "active";
  public static final String REVOKED = "revoked";
  public static final String LOCKED = "locked";

  public boolean active() {
    return ACTIVE.equals(status);
  }
}
