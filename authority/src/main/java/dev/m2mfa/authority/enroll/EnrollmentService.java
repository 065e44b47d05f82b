package dev.m2mfa.authority.enroll;

import dev.m2mfa.authority.factor.otpchain.OtpChainFactor;

import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import dev.m2mfa.api.Cidr;
import dev.m2mfa.api.MachineName;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.authority.audit.AuditLog;
import dev.m2mfa.authority.factor.hardware.KeyResidence;
import dev.m2mfa.authority.pki.CertificateAuthority;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.authority.store.JoinTokenRecord;
import dev.m2mfa.authority.store.MachineRecord;
import dev.m2mfa.authority.store.Store;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;

/**
 * Enrollment: an admin mints a one-time join token (stored only as its SHA-256), the agent
 * presents it with a CSR for a key it generated itself (the CSR signature proves possession).
 * Consuming the token and recording the machine happen in one transaction; a token bound to
 * CIDRs is only accepted from inside them, and a refused attempt does not consume it.
 */
public final class EnrollmentService {
  private static final SecureRandom RANDOM = new SecureRandom();
  public static final Duration MAX_JOIN_TOKEN_TTL = Duration.ofDays(7);

  private final Store store;
  private final AuthorityConfig config;
  private final CertificateAuthority ca;
  private final AuditLog audit;
  private final dev.m2mfa.authority.revocation.RevocationService revocations;

  private final dev.m2mfa.authority.policy.PolicySource policies;

  public EnrollmentService(Store store, AuthorityConfig config, CertificateAuthority ca, AuditLog audit,
      dev.m2mfa.authority.revocation.RevocationService revocations, dev.m2mfa.authority.policy.PolicySource policies) {
    this.policies = policies;
    this.store = store;
    this.config = config;
    this.ca = ca;
    this.audit = audit;
    this.revocations = revocations;
  }

  /**
   * Admin re-enrollment of a locked or revoked machine: a join token that, when used, gives the
   * existing name a new key, a new otp-chain and forgets every factor's state; the machine's
   * tokens issued before then stay refused by verifiers (the reinstate event carries the time).
   */
  public JoinToken createReenrollToken(String name, Duration ttl, String admin) {
    MachineRecord m = store.machines().find(name).orElseThrow(() -> new NotFound("no such machine"));
    if (m.active()) throw new Conflict("the machine is active; revoke it or let it be locked before re-enrolling");
    if (ttl.isNegative() || ttl.isZero() || ttl.compareTo(MAX_JOIN_TOKEN_TTL) > 0) throw new IllegalArgumentException("ttl must be 1 s to 7 days");
    byte[] raw = new byte[32];
    RANDOM.nextBytes(raw);
    String token = "m2mfa-join-" + Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
    long now = System.currentTimeMillis();
    long exp = now + ttl.toMillis();
    store.joinTokens().insert(new JoinTokenRecord(hash(token), name, m.policyClass(), m.networks(), exp, now, null, JoinTokenRecord.REENROLL));
    audit.appendAndWait("join_token.created", name, Map.of("purpose", JoinTokenRecord.REENROLL, "networks", m.networks(), "expires_at", exp,
        "admin", admin, "previous_status", m.status()));
    return new JoinToken(token, exp);
  }

  /** A join token, shown once. */
  public record JoinToken(String token, long expiresAt) {
    @Override
    public String toString() {
      return "JoinToken[redacted, expiresAt=" + expiresAt + "]";
    }
  }

  public JoinToken createJoinToken(String name, String policyClass, List<String> cidrs, Duration ttl, String admin) {
    if (!MachineName.isValid(name)) throw new IllegalArgumentException("name must be 1-63 characters of a-z, 0-9 and '-'");
    String cls = policyClass == null ? "default" : policyClass;
    if (!policies.current().hasClass(cls)) throw new IllegalArgumentException("unknown machine class: " + cls);
    if (ttl.isNegative() || ttl.isZero() || ttl.compareTo(MAX_JOIN_TOKEN_TTL) > 0) throw new IllegalArgumentException("ttl must be 1 s to 7 days");
    if (cidrs.size() > 32) throw new IllegalArgumentException("at most 32 CIDRs");
    String networks = String.join(",", cidrs.stream().map(Cidr::parse).map(Cidr::toString).toList());
    if (store.machines().find(name).isPresent()) throw new Conflict("a machine with this name is already enrolled");
    byte[] raw = new byte[32];
    RANDOM.nextBytes(raw);
    String token = "m2mfa-join-" + Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
    long now = System.currentTimeMillis();
    long exp = now + ttl.toMillis();
    store.joinTokens().insert(new JoinTokenRecord(hash(token), name, cls, networks, exp, now, null));
    audit.appendAndWait("join_token.created", name, Map.of("class", cls, "networks", networks, "expires_at", exp, "admin", admin));
    return new JoinToken(token, exp);
  }

  /** The enrolled machine and its first certificate chain. */
  public record Enrolled(String name, String spiffeId, String certificateChainPem, dev.m2mfa.api.otp.OtpEnvelope.Sealed otpFirst) {}

  /**
   * Enrolls with a join token and a CSR. Returns empty for any authentication failure (bad,
   * used, expired or out-of-network token); throws {@link IllegalArgumentException} for a
   * malformed CSR. Either way nothing is stored.
   */
  public Optional<Enrolled> enroll(String untrustedToken, String untrustedCsrPem, InetAddress source) {
    return enroll(untrustedToken, untrustedCsrPem, null, null, source);
  }

  /**
   * As above, with the agent's claim of where its key lives ({@code {"provider": ..., "evidence":
   * {...}}}, or null), judged by {@link KeyResidence#assess} and stored for factor
   * {@code hardware} in the same transaction as the machine (throws {@link KeyResidence.BadClaim}
   * for a malformed claim), and its otp-chain key ({@code untrustedOtpChainKey}, 65 bytes, or
   * null): the machine's otp-chain starts in the same transaction and its first secret is
   * returned sealed.
   */
  public Optional<Enrolled> enroll(String untrustedToken, String untrustedCsrPem, Map<String, Object> untrustedKeyResidence,
      byte[] untrustedOtpChainKey, InetAddress source) {
    PublicKey key = verifiedCsrKey(untrustedCsrPem);
    KeyResidence.checkShape(untrustedKeyResidence); // before any state changes
    if (untrustedOtpChainKey != null && !dev.m2mfa.api.otp.OtpEnvelope.validPublicKey(untrustedOtpChainKey)) {
      throw new IllegalArgumentException("otp_chain_key must be an uncompressed P-256 point");
    }
    KeyResidence.Record[] residence = {null};
    dev.m2mfa.api.otp.OtpEnvelope.Sealed[] first = {null};
    dev.m2mfa.authority.store.RevocationRecord[] reinstated = {null};
    Map<String, Object> detail = new LinkedHashMap<>();
    detail.put("source", source.getHostAddress());
    if (untrustedToken == null || untrustedToken.length() > 200) {
      audit.appendAndWait("enroll.denied", "", Map.of("reason", "join token missing or malformed", "source", source.getHostAddress()));
      return Optional.empty();
    }
    String tokenHash = hash(untrustedToken);
    long now = System.currentTimeMillis();
    String[] denial = {null};
    MachineRecord rec;
    try {
    rec = store.transaction(() -> {
      Optional<JoinTokenRecord> t = store.joinTokens().consume(tokenHash, now);
      if (t.isEmpty()) {
        denial[0] = "join token unknown, used or expired";
        return null;
      }
      JoinTokenRecord jt = t.get();
      List<Cidr> nets = jt.networks().isBlank() ? List.of() : java.util.Arrays.stream(jt.networks().split(",")).map(Cidr::parse).toList();
      if (!nets.isEmpty() && nets.stream().noneMatch(c -> c.contains(source))) {
        denial[0] = "enrollment from " + source.getHostAddress() + " outside the token's networks";
        throw new Denied();
      }
      String bound = nets.isEmpty() ? Cidr.hostOf(source).toString() : jt.networks();
      Optional<MachineRecord> existing = store.machines().find(jt.machineName());
      if (JoinTokenRecord.REENROLL.equals(jt.purpose())) {
        if (existing.isEmpty() || existing.get().active()) {
          denial[0] = "re-enrollment token for a machine that is missing or active";
          throw new Denied();
        }
        store.factorStates().deleteAll(jt.machineName());
        store.machines().replaceKey(jt.machineName(), Base64.getEncoder().encodeToString(key.getEncoded()), jkt(key), bound, now);
        residence[0] = KeyResidence.assess(untrustedKeyResidence, key, jt.policyClass(), config);
        store.factorStates().put(jt.machineName(), KeyResidence.FACTOR, residence[0].json(), now);
        if (untrustedOtpChainKey != null) first[0] = OtpChainFactor.enroll(store, jt.machineName(), untrustedOtpChainKey, now);
        reinstated[0] = store.revocations().append("reinstate", existing.get().spiffeId(), "re-enrolled with a new key", now);
        return store.machines().find(jt.machineName()).orElseThrow();
      }
      if (existing.isPresent()) {
        denial[0] = "machine name already enrolled";
        throw new Denied();
      }
      MachineRecord m = new MachineRecord(jt.machineName(), ca.machineSpiffeId(jt.machineName()), jt.policyClass(),
          Base64.getEncoder().encodeToString(key.getEncoded()), jkt(key), bound, MachineRecord.ACTIVE, now, now);
      store.machines().insert(m);
      residence[0] = KeyResidence.assess(untrustedKeyResidence, key, jt.policyClass(), config);
      store.factorStates().put(m.name(), KeyResidence.FACTOR, residence[0].json(), now);
      if (untrustedOtpChainKey != null) first[0] = OtpChainFactor.enroll(store, m.name(), untrustedOtpChainKey, now);
      return m;
    });
    } catch (Denied d) {
      rec = null; // rolled back: the token stays unused
    }
    if (rec == null) {
      audit.appendAndWait("enroll.denied", "", Map.of("reason", denial[0], "source", source.getHostAddress()));
      return Optional.empty();
    }
    if (reinstated[0] != null) {
      revocations.announce(reinstated[0], rec.name(), "re-enrolled with a new key", "enrollment");
      detail.put("reenrolled", true);
    }
    X509Certificate cert = ca.issueMachine(rec.name(), key, config.certificateLifetime());
    detail.put("networks", rec.networks());
    detail.put("class", rec.policyClass());
    detail.put("key_thumbprint", rec.keyThumbprint());
    detail.put("certificate_serial", cert.getSerialNumber().toString(16));
    detail.put("otp_chain", first[0] != null);
    detail.put("key_residence", residence[0].residence() + ", proof " + residence[0].proof() + ": " + residence[0].detail());
    audit.appendAndWait("enroll.allowed", rec.name(), detail);
    return Optional.of(new Enrolled(rec.name(), rec.spiffeId(), Pem.encodeChain(ca.chainFor(cert)), first[0]));
  }

  private static PublicKey verifiedCsrKey(String pem) {
    PKCS10CertificationRequest csr = Pem.csr(pem);
    try {
      JcaPKCS10CertificationRequest jcsr = new JcaPKCS10CertificationRequest(csr);
      PublicKey key = jcsr.getPublicKey();
      if (!(key instanceof ECPublicKey ec) || ec.getParams().getCurve().getField().getFieldSize() != 256
          || !Curve.forECParameterSpec(ec.getParams()).equals(Curve.P_256)) {
        throw new IllegalArgumentException("the CSR key must be EC P-256");
      }
      if (!csr.isSignatureValid(new JcaContentVerifierProviderBuilder().build(key))) {
        throw new IllegalArgumentException("the CSR signature does not verify (no proof of possession)");
      }
      return key;
    } catch (IllegalArgumentException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalArgumentException("the CSR cannot be read");
    }
  }

  /** RFC 7638 SHA-256 thumbprint of a P-256 public key, base64url. */
  public static String jkt(PublicKey key) {
    try {
      return new ECKey.Builder(Curve.P_256, (ECPublicKey) key).build().computeThumbprint("SHA-256").toString();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static String hash(String token) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static final class Denied extends RuntimeException {
    Denied() {
      super(null, null, false, false);
    }
  }

  /** No such machine. */
  public static final class NotFound extends RuntimeException {
    public NotFound(String message) {
      super(message);
    }
  }

  /** The request conflicts with existing state. */
  public static final class Conflict extends RuntimeException {
    public Conflict(String message) {
      super(message);
    }
  }
}
