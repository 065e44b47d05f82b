package dev.m2mfa.authority.login;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.api.Cidr;
import dev.m2mfa.api.LoginTranscript;
import dev.m2mfa.api.MachineName;
import dev.m2mfa.api.factor.EnrolledMachine;
import dev.m2mfa.api.factor.FactorResult;
import dev.m2mfa.api.factor.FactorStatus;
import dev.m2mfa.api.factor.FactorVerifier;
import dev.m2mfa.api.factor.VerificationContext;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.authority.audit.AuditLog;
import dev.m2mfa.authority.factor.TransactionalFactor;
import dev.m2mfa.authority.policy.Decision;
import dev.m2mfa.authority.policy.Policy;
import dev.m2mfa.authority.policy.PolicyEvent;
import dev.m2mfa.authority.policy.PolicySource;
import dev.m2mfa.authority.pki.CertificateAuthority;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.authority.store.MachineRecord;
import dev.m2mfa.authority.store.Store;
import dev.m2mfa.authority.token.TokenIssuer;
import java.net.InetAddress;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Multi-factor login as challenge and response.
 *
 * <p>{@link #start} records a single-use session (nonce, the exact challenge bytes, the TLS
 * exporter of the connection) and returns the challenge for every factor the machine's class
 * requires. {@link #finish} removes the session before anything else (so a transcript is
 * never accepted twice), requires the same TLS exporter (same connection), hashes the
 * transcript, runs every required factor's verifier and stamps each result with the factor's
 * name. The decision and every factor's reason go to the audit log, durably, before a token
 * is returned; the wire sees one uniform failure whatever the cause.
 *
 * <p>An unknown, revoked or malformed machine name gets a decoy challenge that looks like a
 * real one, so the start call does not reveal which machines exist.
 */
public final class LoginService {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final long SESSION_TTL_MILLIS = 30_000;
  private static final int MAX_SESSIONS = 200_000;
  private static final int MAX_EVIDENCE_BYTES = 48 * 1024;

  private static final List<String> DECOY_FACTORS = List.of("key", "network");
  /** Stands in for unknown machines so their challenges look like real ones. */
  private static final EnrolledMachine DECOY = new EnrolledMachine("decoy", "spiffe://decoy/machine/decoy", "default",
      dev.m2mfa.api.pki.KeyFiles.newP256().getPublic(), List.of());

  private final Store store;
  private final AuthorityConfig config;
  private final Map<String, FactorVerifier> verifiers;
  private final TokenIssuer tokens;
  private final CertificateAuthority ca;
  private final AuditLog audit;
  private final PolicySource policies;
  private volatile java.util.function.LongSupplier revocationSeq = () -> -1;
  private final ConcurrentHashMap<String, Session> sessions = new ConcurrentHashMap<>();
  private final AtomicInteger sinceSweep = new AtomicInteger();

  /** {@code policy}: the policy the challenge was made under; the same one decides at finish. */
  private record Session(String id, MachineRecord machine, String requestedName, String audience, Optional<String> requestedAcr,
      Policy policy, String policyDigest, byte[] challengeBytes, byte[] exporter, Map<String, Map<String, Object>> challenges, long expiresAt) {}

  public LoginService(Store store, AuthorityConfig config, Map<String, FactorVerifier> verifiers, TokenIssuer tokens,
      CertificateAuthority ca, AuditLog audit, PolicySource policies) {
    this.store = store;
    this.config = config;
    this.verifiers = Map.copyOf(verifiers);
    this.tokens = tokens;
    this.ca = ca;
    this.audit = audit;
    this.policies = policies;
  }

  /** Where tokens get their {@code rsq} claim: the latest revocation sequence number. */
  public void revocationSeq(java.util.function.LongSupplier latest) {
    this.revocationSeq = latest;
  }

  /** The start response body (exact bytes; they are part of the transcript). */
  public byte[] start(String untrustedMachineName, String untrustedAudience, byte[] exporter) {
    return start(untrustedMachineName, untrustedAudience, null, exporter);
  }

  /**
   * The start response body (exact bytes; they are part of the transcript).
   *
   * @param untrustedAcr the level the agent asks for (a step-up), or null for what the audience needs
   */
  public byte[] start(String untrustedMachineName, String untrustedAudience, String untrustedAcr, byte[] exporter) {
    sweepSometimes();
    if (sessions.size() >= MAX_SESSIONS) throw new Overloaded();
    String name = MachineName.isValid(untrustedMachineName) ? untrustedMachineName : "invalid";
    String audience = untrustedAudience == null ? "" : untrustedAudience;
    if (audience.isEmpty() || audience.length() > 200 || !audience.matches("[\\x21-\\x7e]+")) throw new BadRequest("audience must be 1-200 printable ASCII characters");
    if (untrustedAcr != null && (untrustedAcr.isEmpty() || untrustedAcr.length() > 100 || !untrustedAcr.matches("[\\x21-\\x7e]+"))) {
      throw new BadRequest("acr must be 1-100 printable ASCII characters");
    }
    Policy p = policies.current();
    Optional<String> acr = Optional.ofNullable(untrustedAcr);
    MachineRecord machine = MachineName.isValid(untrustedMachineName)
        ? store.machines().find(untrustedMachineName).filter(MachineRecord::active).orElse(null) : null;
    List<String> required = machine == null || !p.hasClass(machine.policyClass()) ? null
        : p.factorsToChallenge(machine.policyClass(), audience, acr);
    if (required == null) {
      machine = null; // unknown machine, or its class is no longer configured: fail closed with a decoy
      required = p.hasClass("default") ? p.factorsToChallenge("default", audience, Optional.empty()) : DECOY_FACTORS;
    }
    Map<String, Map<String, Object>> challenges = new LinkedHashMap<>();
    EnrolledMachine em = machine == null ? DECOY : enrolled(machine);
    for (String f : required) challenges.put(f, verifiers.get(f).challenge(em));
    String id = randomId(16);
    long expiresAt = System.currentTimeMillis() + SESSION_TTL_MILLIS;
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("session", id);
    body.put("nonce", randomId(32));
    body.put("machine", name);
    body.put("audience", audience);
    body.put("factors", challenges);
    body.put("expires_at", expiresAt);
    byte[] bytes;
    try {
      bytes = JSON.writeValueAsBytes(body);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
    sessions.put(id, new Session(id, machine, name, audience, acr, p, policies.status().digest(), bytes, exporter.clone(), challenges, expiresAt));
    return bytes;
  }

  /** A successful login. */
  public record Success(String accessToken, long expiresIn, List<String> amr, String acr, String certificateChainPem,
      Map<String, Object> responseExtras) {
    @Override
    public String toString() {
      return "Success[amr=" + amr + ", acr=" + acr + "]";
    }
  }

  /**
   * Completes a login; returns empty on any failure (the caller answers a uniform
   * authentication failure; the reason is in the audit log).
   */
  public Optional<Success> finish(String untrustedSession, String untrustedEvidence, String untrustedSignature, byte[] exporter,
      InetAddress source, X509Certificate clientCert, boolean wantCertificate) {
    Session s = untrustedSession == null || untrustedSession.length() > 64 ? null : sessions.remove(untrustedSession);
    Map<String, Object> detail = new LinkedHashMap<>();
    detail.put("source", source == null ? null : source.getHostAddress());
    if (s == null) {
      audit.appendAndWait("login.denied", "", Map.of("reason", "unknown, expired or already used login session", "source", String.valueOf(detail.get("source"))));
      return Optional.empty();
    }
    detail.put("audience", s.audience);
    String subject = s.requestedName;
    if (s.expiresAt < System.currentTimeMillis()) return deny(subject, detail, "login session expired");
    if (!MessageDigest.isEqual(s.exporter, exporter)) return deny(subject, detail, "finish arrived on another TLS connection than start (relay)");
    if (s.machine == null) return deny(subject, detail, "unknown or inactive machine");
    MachineRecord fresh = store.machines().find(s.machine.name()).orElse(null);
    if (fresh == null || !fresh.active()) return deny(subject, detail, "machine revoked during login");
    byte[] evidenceBytes;
    byte[] signature;
    Map<String, Object> evidence;
    try {
      if (untrustedEvidence == null || untrustedEvidence.length() > MAX_EVIDENCE_BYTES * 4 / 3 + 4 || untrustedSignature == null
          || untrustedSignature.length() > 200) {
        return deny(subject, detail, "evidence or signature missing or too large");
      }
      evidenceBytes = Base64.getUrlDecoder().decode(untrustedEvidence);
      signature = Base64.getUrlDecoder().decode(untrustedSignature);
      @SuppressWarnings("unchecked")
      Map<String, Object> parsed = JSON.readValue(evidenceBytes, Map.class);
      evidence = parsed;
    } catch (Exception e) {
      return deny(subject, detail, "evidence malformed");
    }
    byte[] digest = LoginTranscript.digest(s.challengeBytes, exporter, evidenceBytes);
    EnrolledMachine em = enrolled(fresh);
    List<FactorResult> results = new ArrayList<>();
    List<String> transactional = new ArrayList<>();
    for (var entry : s.challenges.entrySet()) {
      String factor = entry.getKey();
      if (verifiers.get(factor) instanceof TransactionalFactor) {
        transactional.add(factor); // judged last, inside the decision's transaction
        continue;
      }
      VerificationContext ctx = new Context(em, source, digest, signature, entry.getValue());
      FactorResult r;
      try {
        r = FactorResult.stamp(factor, verifiers.get(factor).verify(ctx, evidenceFor(evidence, factor)));
      } catch (RuntimeException e) {
        r = new FactorResult(factor, FactorStatus.FAIL, "verifier error: " + e.getClass().getSimpleName());
      }
      results.add(r);
    }
    String postureAlert = acceptMismatchOnAlert(s.policy, fresh.policyClass(), results);
    Map<String, Object> extras = new LinkedHashMap<>();
    if (!transactional.isEmpty()) {
      boolean keyPassed = results.stream().anyMatch(r -> r.factor().equals("key") && r.passed());
      // advance only if the login would be allowed with the transactional factors passing
      java.util.Set<String> hypothetical = new java.util.HashSet<>(transactional);
      results.stream().filter(FactorResult::passed).forEach(r -> hypothetical.add(r.factor()));
      boolean othersPassed = s.policy.evaluate(fresh.policyClass(), s.audience, s.requestedAcr, hypothetical, java.util.Set.of(),
          java.util.Set.of()).allowed();
      List<Runnable> afterCommit = new ArrayList<>();
      List<FactorResult> judged = store.transaction(() -> {
        List<FactorResult> out = new ArrayList<>();
        MachineRecord now = store.machines().find(fresh.name()).orElse(null);
        for (String factor : transactional) {
          if (!keyPassed) {
            out.add(new FactorResult(factor, FactorStatus.FAIL, "not judged: the login signature (key factor) did not verify"));
            continue;
          }
          if (now == null || !now.active()) {
            out.add(new FactorResult(factor, FactorStatus.FAIL, "not judged: machine no longer active"));
            continue;
          }
          VerificationContext ctx = new Context(em, source, digest, signature, s.challenges.get(factor));
          TransactionalFactor.Judgement j = ((TransactionalFactor) verifiers.get(factor)).judge(ctx, now, evidenceFor(evidence, factor),
              othersPassed ? TransactionalFactor.Mode.ADVANCE : TransactionalFactor.Mode.DETECT_ONLY);
          out.add(FactorResult.stamp(factor, j.outcome()));
          afterCommit.add(j.afterCommit());
          if (othersPassed && j.outcome().status() == FactorStatus.PASS) extras.putAll(j.response());
        }
        return out;
      });
      afterCommit.forEach(Runnable::run);
      results.addAll(judged);
    }
    detail.put("factors", results.stream().map(LoginService::auditEntry).toList());
    s.requestedAcr.ifPresent(a -> detail.put("requested_acr", a));
    java.util.Set<PolicyEvent> events = results.stream().anyMatch(r -> r.reason() != null && r.reason().startsWith("clone detected"))
        ? java.util.Set.of(PolicyEvent.CLONE) : java.util.Set.of();
    Decision decision = s.policy.evaluate(fresh.policyClass(), s.audience, s.requestedAcr, results, events);
    detail.put("policy", decision.reason());
    detail.put("policy_digest", s.policyDigest);
    if (!decision.allowed()) {
      detail.put("response", decision.response().name().toLowerCase(java.util.Locale.ROOT));
      decision.stepUpAcr().ifPresent(a -> detail.put("step_up_acr", a));
      return deny(subject, detail, "policy: " + decision.reason());
    }
    List<String> amr = decision.amr();
    String acr = decision.acr().orElseThrow();
    String x5t = null;
    if (clientCert != null && s.machine.spiffeId().equals(CertificateAuthority.spiffeIdOf(clientCert))
        && java.util.Arrays.equals(clientCert.getPublicKey().getEncoded(), em.identityKey().getEncoded())) {
      x5t = CertificateAuthority.thumbprint(clientCert);
    }
    String chain = null;
    if (wantCertificate) {
      // the agent switches to the new certificate at once: bind the token to that one
      X509Certificate cert = ca.issueMachine(fresh.name(), em.identityKey(), decision.certificateLifetime());
      chain = Pem.encodeChain(ca.chainFor(cert));
      x5t = CertificateAuthority.thumbprint(cert);
      detail.put("certificate_serial", cert.getSerialNumber().toString(16));
    }
    TokenIssuer.IssuedToken token = tokens.issue(fresh.spiffeId(), fresh.name(), s.audience, amr, acr, fresh.keyThumbprint(), x5t,
        decision.tokenLifetime(), revocationSeq.getAsLong());
    if (postureAlert != null) {
      detail.put("posture_alert", postureAlert);
      ALERTS.warn("ALERT posture-mismatch machine={} reason={}", fresh.name(), postureAlert);
    }
    detail.put("decision", "allow");
    detail.put("amr", amr);
    detail.put("acr", acr);
    detail.put("jti", token.jti());
    audit.appendAndWait("login.allowed", subject, detail);
    return Optional.of(new Success(token.jwt(), decision.tokenLifetime().toSeconds(), amr, acr, chain, extras));
  }

  private static final org.slf4j.Logger ALERTS = org.slf4j.LoggerFactory.getLogger("m2mfa.alert");

  /**
   * {@code on: posture_mismatch: alert}: a posture report that differs from the baseline counts
   * as passed for this login and is alerted (log line {@code ALERT posture-mismatch}, audit
   * detail {@code posture_alert}). Refused or unverifiable evidence never does. Returns the
   * alerted reason, or null.
   */
  private static String acceptMismatchOnAlert(Policy policy, String machineClass, List<FactorResult> results) {
    var mc = policy.machineClass(machineClass).orElse(null);
    if (mc == null || mc.responses().postureMismatch() != dev.m2mfa.authority.policy.Response.ALERT) return null;
    for (int i = 0; i < results.size(); i++) {
      FactorResult r = results.get(i);
      if (r.factor().equals(Policy.POSTURE) && r.status() == FactorStatus.FAIL && r.reason() != null
          && !r.reason().startsWith("posture evidence refused")) {
        results.set(i, new FactorResult(r.factor(), FactorStatus.PASS, "mismatch accepted (on posture_mismatch: alert): " + r.reason()));
        return r.reason();
      }
    }
    return null;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> evidenceFor(Map<String, Object> evidence, String factor) {
    return evidence.get(factor) instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
  }

  private static Map<String, Object> auditEntry(FactorResult r) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("factor", r.factor());
    m.put("status", r.status().name());
    m.put("reason", r.reason());
    return m;
  }

  private Optional<Success> deny(String subject, Map<String, Object> detail, String reason) {
    detail.put("decision", "deny");
    detail.put("reason", reason);
    audit.appendAndWait("login.denied", subject, detail);
    return Optional.empty();
  }

  private void sweepSometimes() {
    if (sinceSweep.incrementAndGet() % 1024 != 0 && sessions.size() < MAX_SESSIONS) return;
    long now = System.currentTimeMillis();
    sessions.values().removeIf(s -> s.expiresAt < now);
  }

  public static EnrolledMachine enrolled(MachineRecord m) {
    try {
      // BouncyCastle's own key object: handed a JDK key, BC converts it on every verification
      PublicKey key = KeyFactory.getInstance("EC", dev.m2mfa.authority.token.Crypto.provider()).generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(m.publicKey())));
      List<Cidr> nets = m.networks().isBlank() ? List.of() : java.util.Arrays.stream(m.networks().split(",")).map(Cidr::parse).toList();
      return new EnrolledMachine(m.name(), m.spiffeId(), m.policyClass(), key, nets);
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("stored key of machine " + m.name() + " is unreadable", e);
    }
  }

  private static String randomId(int bytes) {
    byte[] b = new byte[bytes];
    RANDOM.nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  private record Context(EnrolledMachine machine, InetAddress sourceAddress, byte[] transcriptDigest,
      byte[] untrustedTranscriptSignature, Map<String, Object> challenge) implements VerificationContext {}

  /** A client error in the start request. */
  public static final class BadRequest extends RuntimeException {
    public BadRequest(String message) {
      super(message);
    }
  }

  /** Too many open login sessions. */
  public static final class Overloaded extends RuntimeException {
    public Overloaded() {
      super("too many pending logins");
    }
  }
}
