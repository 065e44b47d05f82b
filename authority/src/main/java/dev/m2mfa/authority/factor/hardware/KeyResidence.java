package dev.m2mfa.authority.factor.hardware;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.authority.AuthorityConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where an enrolled key lives, as far as the authority can tell, and why it believes it: the
 * record stored in {@code factor_state} for factor {@code hardware}, exactly
 * {@code {"residence": "software|sealed|pkcs11|tpm", "proof": "none|operator-trust|vendor-attestation|tpm-credential-activation", "detail": "..."}}.
 *
 * <p>The agent's claim is untrusted. {@link #assess} turns it into a record:
 * <ul>
 *   <li>{@code pkcs11} with vendor evidence that a {@link KeyAttestationVerifier} accepts
 *       against the configured roots ({@code hardware.attestation_roots}, a PEM file):
 *       {@code vendor-attestation};
 *   <li>{@code pkcs11} otherwise, when the machine's class trusts PKCS#11 claims
 *       ({@code hardware.trust_pkcs11.<class>=true}, an operator's decision about the machines
 *       it provisions): {@code operator-trust};
 *   <li>everything else: {@code none}. A {@code tpm} claim made here stays {@code none}: only
 *       TPM credential activation (its own enrollment step) writes {@code tpm-credential-activation}.
 * </ul>
 */
public final class KeyResidence {
  public static final String FACTOR = "hardware";
  public static final Set<String> RESIDENCES = Set.of("software", "sealed", "pkcs11", "tpm");
  public static final Set<String> PROOFS = Set.of("none", "operator-trust", "vendor-attestation", "tpm-credential-activation");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long MAX_ROOTS_FILE = 256 * 1024;

  private KeyResidence() {}

  /** One record; {@link #json()} is the stored form. */
  public record Record(String residence, String proof, String detail) {
    public Record {
      if (!RESIDENCES.contains(residence)) throw new IllegalArgumentException("unknown residence " + residence);
      if (!PROOFS.contains(proof)) throw new IllegalArgumentException("unknown proof " + proof);
      detail = detail == null ? "" : detail.length() > 300 ? detail.substring(0, 300) : detail;
    }

    public String json() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("residence", residence);
      m.put("proof", proof);
      m.put("detail", detail);
      try {
        return JSON.writeValueAsString(m);
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }

    public static Record parse(String json) {
      try {
        JsonNode n = JSON.readTree(json);
        return new Record(n.path("residence").asText(), n.path("proof").asText(), n.path("detail").asText(""));
      } catch (IOException | RuntimeException e) {
        throw new IllegalArgumentException("unreadable key residence record");
      }
    }
  }

  /** The agent's key_residence is not one this authority understands. */
  public static final class BadClaim extends IllegalArgumentException {
    public BadClaim(String message) {
      super(message);
    }
  }

  /**
   * Judges an agent's claim at enrollment.
   *
   * @param untrustedClaim {@code {"provider": "...", "evidence": {...}}} or null (an agent from before providers)
   * @param enrolledKey the key the CSR proved possession of
   */
  public static Record assess(Map<String, Object> untrustedClaim, PublicKey enrolledKey, String policyClass, AuthorityConfig config) {
    if (untrustedClaim == null) return new Record("software", "none", "the agent reported no key residence; software assumed");
    checkShape(untrustedClaim);
    String provider = (String) untrustedClaim.get("provider");
    Object ev = untrustedClaim.get("evidence");
    @SuppressWarnings("unchecked")
    Map<String, Object> evidence = ev == null ? Map.of() : (Map<String, Object>) ev;
    return switch (provider) {
      case "software" -> new Record("software", "none", "software key file on the machine");
      case "sealed" -> new Record("sealed", "none", "software key sealed at rest; in memory once unlocked");
      case "tpm" -> new Record("tpm", "none", "TPM residence claimed; only TPM credential activation proves it");
      default -> assessPkcs11(evidence, enrolledKey, policyClass, config);
    };
  }

  private static Record assessPkcs11(Map<String, Object> evidence, PublicKey key, String policyClass, AuthorityConfig config) {
    String attestation = "no vendor attestation";
    if (evidence.get("format") instanceof String format) {
      var verifier = KeyAttestationVerifiers.forFormat(format);
      if (verifier.isEmpty()) {
        attestation = "vendor attestation format " + (format.length() > 40 ? format.substring(0, 40) : format) + " is not supported";
      } else {
        var verdict = verifier.get().verify(evidence, key, attestationRoots(config));
        if (verdict.attested()) return new Record("pkcs11", "vendor-attestation", verifier.get().format() + ": " + verdict.detail());
        attestation = "vendor attestation refused: " + verdict.detail();
      }
    }
    if (classTrustsPkcs11(config, policyClass)) {
      return new Record("pkcs11", "operator-trust", "class " + policyClass + " trusts PKCS#11 claims (hardware.trust_pkcs11." + policyClass + "); " + attestation);
    }
    return new Record("pkcs11", "none", "PKCS#11 claimed, " + attestation + ", and class " + policyClass + " does not trust PKCS#11 claims");
  }

  /** Refuses a claim this authority cannot read (null is fine: an agent from before providers). */
  public static void checkShape(Map<String, Object> untrustedClaim) {
    if (untrustedClaim == null) return;
    if (!(untrustedClaim.get("provider") instanceof String provider) || !RESIDENCES.contains(provider)) {
      throw new BadClaim("key_residence.provider must be one of software, sealed, pkcs11, tpm");
    }
    Object ev = untrustedClaim.get("evidence");
    if (ev != null && !(ev instanceof Map<?, ?>)) throw new BadClaim("key_residence.evidence must be an object");
  }

  public static boolean classTrustsPkcs11(AuthorityConfig config, String policyClass) {
    return "true".equals(config.pluginOption("hardware.trust_pkcs11." + policyClass, "false"));
  }

  /** The vendor roots from {@code hardware.attestation_roots} (a PEM file); empty when unset or unreadable. */
  static List<X509Certificate> attestationRoots(AuthorityConfig config) {
    String file = config.pluginOption("hardware.attestation_roots", "");
    if (file.isBlank()) return List.of();
    try {
      Path p = Path.of(file);
      if (Files.size(p) > MAX_ROOTS_FILE) return List.of();
      return Pem.certificates(Files.readString(p));
    } catch (IOException | RuntimeException e) {
      return List.of();
    }
  }
}
