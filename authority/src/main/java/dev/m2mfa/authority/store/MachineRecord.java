package dev.m2mfa.authority.store;

/**
 * A machine as stored. {@code publicKey} is base64 SPKI DER; {@code networks} comma-separated CIDRs.
 * {@code status} is {@code active} or {@code revoked}.
 */
public record MachineRecord(String name, String spiffeId, String policyClass, String publicKey, String keyThumbprint,
    String networks, String status, long enrolledAt, long updatedAt) {
  public static final String ACTIVE = "active";
  public static final String REVOKED = "revoked";

  public boolean active() {
    return ACTIVE.equals(status);
  }
}
