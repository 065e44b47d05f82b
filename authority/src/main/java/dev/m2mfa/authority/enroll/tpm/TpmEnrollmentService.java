package dev.m2mfa.authority.enroll.tpm;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.api.tpm.MalformedTpmDataException;
import dev.m2mfa.api.tpm.TpmAttest;
import dev.m2mfa.api.tpm.TpmPublic;
import dev.m2mfa.authority.audit.AuditLog;
import dev.m2mfa.authority.enroll.EnrollmentService;
import dev.m2mfa.authority.store.Store;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;

/**
 * Enrollment of a machine whose login key lives in a TPM 2.0, proven by credential
 * activation. Two rounds, joined by a single-use server-side session that expires after
 * {@link TpmEnrollmentSettings#sessionLifetime} (at most 1024 pending, 16 per source address,
 * so that callers without a join token cannot crowd out real enrollments from elsewhere):
 *
 * <ol>
 *   <li><b>start</b>: the agent sends its join token, its EK public area (and EK certificate if
 *       the TPM has one) and a fresh AK public area. The authority checks the EK certificate
 *       (it must certify this EK and chain to a configured anchor) or, without one, applies
 *       the policy (refuse, or trust on first use); checks the AK's attributes (restricted,
 *       sign, fixedTPM, fixedParent, sensitiveDataOrigin; ECC P-256 ECDSA/SHA-256); then wraps
 *       a random 32-byte secret for that EK and AK name ({@link CredentialMaker}) and returns it
 *       with a random nonce.</li>
 *   <li><b>finish</b>: the agent returns the unwrapped secret (only the TPM holding the EK can
 *       unwrap it, and only with an AK of that name loaded), a quote by the AK over the nonce
 *       (the AK is live now; an old quote has an old nonce), a certify by the AK of the login
 *       key (the login key is in the same TPM, with fixedTPM, fixedParent and
 *       sensitiveDataOrigin), a signature by the login key over the nonce, and the CSR for the
 *       login key. Only when every check passes does the ordinary enrollment run (join token
 *       consumed, machine recorded, certificate issued), and the machine's {@code hardware}
 *       factor state is written as TPM-resident.</li>
 * </ol>
 *
 * <p>What this does not prove: without an EK certificate, that the TPM is a hardware TPM at
 * all (swtpm passes on trust on first use); that the AK's attributes are honest beyond what
 * the TPM enforces (a restricted key only signs TPM-generated attestations, which is what
 * the certify and quote checks rely on). See docs/factors/hardware-tpm.md.
 */
public final class TpmEnrollmentService {
  public static final String FACTOR = "hardware";
  /**
   * factor_state key of the machine's attestation key: {@code {"ak_public": base64 TPMT_PUBLIC,
   * "ak_name": hex}}, written with the hardware record; posture anchoring checks quotes with it.
   */
  public static final String AK_STATE = "tpm.ak";
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_PENDING = 1024;
  private static final int MAX_PENDING_PER_SOURCE = 16;
  private static final byte[] POSSESSION_CONTEXT = "m2mfa tpm enrollment v1\0".getBytes(StandardCharsets.US_ASCII);
  private static final int AK_ATTRIBUTES = TpmPublic.RESTRICTED | TpmPublic.SIGN | TpmPublic.FIXED_TPM | TpmPublic.FIXED_PARENT
      | TpmPublic.SENSITIVE_DATA_ORIGIN;
  private static final int LOGIN_KEY_ATTRIBUTES = TpmPublic.SIGN | TpmPublic.FIXED_TPM | TpmPublic.FIXED_PARENT
      | TpmPublic.SENSITIVE_DATA_ORIGIN;

  private final Store store;
  private final EnrollmentService enrollment;
  private final AuditLog audit;
  private final TpmEnrollmentSettings settings;
  private final EkCertificateVerifier ekVerifier;
  private final Map<String, Session> sessions = new ConcurrentHashMap<>();

  public TpmEnrollmentService(Store store, EnrollmentService enrollment, AuditLog audit, TpmEnrollmentSettings settings) {
    this.store = store;
    this.enrollment = enrollment;
    this.audit = audit;
    this.settings = settings;
    this.ekVerifier = new EkCertificateVerifier(settings.ekCertificateAuthorities());
  }

  /** The evidence was refused; the client sees only a fixed sentence, the audit log has {@link #reason}. */
  public static final class Refused extends RuntimeException {
    private final String reason;

    Refused(String reason) {
      super("TPM evidence refused", null, false, false);
      this.reason = reason;
    }

    public String reason() {
      return reason;
    }
  }

  /** Too many enrollments are pending; try later. */
  public static final class Busy extends RuntimeException {
    Busy() {
      super("too many pending TPM enrollments", null, false, false);
    }
  }

  /** What {@link #start} hands back: the wrapped credential and the nonce for the finish round. */
  public record Challenge(String session, byte[] idObject, byte[] encryptedSecret, byte[] nonce) {
    @Override
    public String toString() {
      return "Challenge[session redacted]";
    }
  }

  /** The finish round's evidence, all of it untrusted until checked. */
  public record Evidence(String session, byte[] secret, String csrPem, byte[] loginPublic, byte[] certifyAttest,
      byte[] certifySignature, byte[] quoteAttest, byte[] quoteSignature, byte[] possessionSignature, byte[] otpChainKey) {
    @Override
    public String toString() {
      return "Evidence[redacted]";
    }
  }

  private record Session(String joinToken, TpmPublic ak, String ekDescription, byte[] secret, byte[] nonce, long expiresAt,
      String source) {}

  /** The message the login key signs to show possession now: a fixed context and the session nonce. */
  public static byte[] possessionMessage(byte[] nonce) {
    byte[] out = Arrays.copyOf(POSSESSION_CONTEXT, POSSESSION_CONTEXT.length + nonce.length);
    System.arraycopy(nonce, 0, out, POSSESSION_CONTEXT.length, nonce.length);
    return out;
  }

  /**
   * Round one. Throws {@link MalformedTpmDataException} for bytes that do not parse,
   * {@link Refused} for evidence that parses but does not pass, {@link Busy} when full.
   */
  public Challenge start(String untrustedJoinToken, byte[] untrustedEkPublic, byte[] untrustedEkCertificate,
      byte[] untrustedAkPublic, InetAddress source) {
    long now = System.currentTimeMillis();
    sessions.values().removeIf(s -> s.expiresAt() < now);
    String from = source.getHostAddress();
    if (sessions.size() >= MAX_PENDING || sessions.values().stream().filter(s -> s.source().equals(from)).count() >= MAX_PENDING_PER_SOURCE) {
      throw new Busy();
    }
    if (untrustedJoinToken == null || untrustedJoinToken.isEmpty() || untrustedJoinToken.length() > 200) {
      throw deny("join token missing or malformed", source);
    }
    TpmPublic ek = TpmPublic.parse2b(untrustedEkPublic);
    TpmPublic ak = TpmPublic.parse2b(untrustedAkPublic);
    if (!ek.has(TpmPublic.RESTRICTED | TpmPublic.DECRYPT | TpmPublic.FIXED_TPM | TpmPublic.FIXED_PARENT) || ek.has(TpmPublic.SIGN)) {
      throw deny("the EK is not a fixed, restricted decryption key", source);
    }
    String ekDescription = describe(ek);
    if (untrustedEkCertificate != null) {
      Optional<String> issuer = ekVerifier.verify(untrustedEkCertificate, ek);
      if (issuer.isPresent()) {
        ekDescription += " certified under " + issuer.get();
      } else if (ekVerifier.hasAnchors()) {
        throw deny("the EK certificate does not certify this EK or does not chain to a configured EK CA", source);
      } else {
        ekDescription += " with an unverified certificate (no EK CA configured: trust on first use)";
      }
    } else if (settings.requireEkCertificate()) {
      throw deny("no EK certificate and the policy requires one", source);
    } else {
      ekDescription += " without certificate (trust on first use)";
    }
    if (!ak.isEcc() || ak.curve() != TpmPublic.CURVE_P256 || ak.scheme() != TpmPublic.ALG_ECDSA || ak.schemeHash() != TpmPublic.ALG_SHA256) {
      throw deny("the AK is not an ECC P-256 ECDSA/SHA-256 key", source);
    }
    if (!ak.has(AK_ATTRIBUTES) || ak.has(TpmPublic.DECRYPT)) {
      throw deny("the AK lacks restricted, sign, fixedTPM, fixedParent or sensitiveDataOrigin", source);
    }
    byte[] secret = new byte[32];
    byte[] nonce = new byte[32];
    byte[] id = new byte[32];
    RANDOM.nextBytes(secret);
    RANDOM.nextBytes(nonce);
    RANDOM.nextBytes(id);
    CredentialMaker.Credential credential = CredentialMaker.make(ek, ak.name(), secret);
    String sessionId = Base64.getUrlEncoder().withoutPadding().encodeToString(id);
    sessions.put(sessionId, new Session(untrustedJoinToken, ak, ekDescription, secret, nonce,
        now + settings.sessionLifetime().toMillis(), source.getHostAddress()));
    return new Challenge(sessionId, credential.idObject(), credential.encryptedSecret(), nonce);
  }

  /**
   * Round two: checks everything, then enrolls. Returns the enrollment on success; throws
   * {@link Refused} (nothing stored, the join token untouched) otherwise, or
   * {@link MalformedTpmDataException}/{@link IllegalArgumentException} for unparseable input.
   */
  public EnrollmentService.Enrolled finish(Evidence e, InetAddress source) {
    Session s = e.session() == null ? null : sessions.remove(e.session()); // single use, whatever happens next
    if (s == null || s.expiresAt() < System.currentTimeMillis()) throw deny("TPM enrollment session unknown, used or expired", source);
    try {
      if (e.secret() == null || !MessageDigest.isEqual(s.secret(), e.secret())) {
        throw deny("credential activation failed: the secret does not match (wrong EK or AK)", source);
      }
      TpmPublic login = TpmPublic.parse2b(e.loginPublic());
      if (!login.isEcc() || login.curve() != TpmPublic.CURVE_P256) throw deny("the login key is not ECC P-256", source);
      if (!login.has(LOGIN_KEY_ATTRIBUTES) || login.has(TpmPublic.DECRYPT)) {
        throw deny("the login key lacks sign, fixedTPM, fixedParent or sensitiveDataOrigin", source);
      }
      PublicKey akKey = s.ak().publicKey();
      TpmAttest certify = TpmAttest.parse(e.certifyAttest());
      if (certify.type() != TpmAttest.ST_ATTEST_CERTIFY || !verifies(akKey, e.certifyAttest(), e.certifySignature())) {
        throw deny("the certify of the login key is not signed by the AK", source);
      }
      if (!MessageDigest.isEqual(certify.certifiedName(), login.name())) {
        throw deny("the AK certified another key than the login key presented", source);
      }
      TpmAttest quote = TpmAttest.parse(e.quoteAttest());
      if (quote.type() != TpmAttest.ST_ATTEST_QUOTE || !verifies(akKey, e.quoteAttest(), e.quoteSignature())) {
        throw deny("the quote is not signed by the AK", source);
      }
      if (!MessageDigest.isEqual(quote.extraData(), s.nonce())) throw deny("the quote is not over this session's nonce (replay)", source);
      if (!verifies(login.publicKey(), possessionMessage(s.nonce()), e.possessionSignature())) {
        throw deny("the login key did not sign this session's nonce", source);
      }
      PublicKey csrKey = csrKey(e.csrPem());
      if (!login.sameKeyAs(csrKey)) throw deny("the CSR is not for the TPM login key", source);
      if (e.otpChainKey() != null && !dev.m2mfa.api.otp.OtpEnvelope.validPublicKey(e.otpChainKey())) {
        throw deny("the otp_chain_key is not an uncompressed P-256 point", source);
      }
      EnrollmentService.Enrolled enrolled = enrollment.enroll(s.joinToken(), e.csrPem(), null, e.otpChainKey(), source)
          .orElseThrow(() -> new Refused("the ordinary enrollment refused the join token (audited there)"));
      Map<String, Object> state = new LinkedHashMap<>();
      state.put("residence", "tpm");
      state.put("proof", "tpm-credential-activation");
      state.put("detail", "login key " + HexFormat.of().formatHex(login.name()) + " certified by AK "
          + HexFormat.of().formatHex(s.ak().name()) + " activated under EK " + s.ekDescription());
      long now = System.currentTimeMillis();
      store.factorStates().put(enrolled.name(), FACTOR, JSON.writeValueAsString(state), now);
      Map<String, Object> akState = new LinkedHashMap<>();
      akState.put("ak_public", Base64.getEncoder().encodeToString(s.ak().wire()));
      akState.put("ak_name", HexFormat.of().formatHex(s.ak().name()));
      store.factorStates().put(enrolled.name(), AK_STATE, JSON.writeValueAsString(akState), now);
      Map<String, Object> detail = new LinkedHashMap<>(state);
      detail.put("source", source.getHostAddress());
      detail.put("pcr_digest", HexFormat.of().formatHex(quote.pcrDigest()));
      audit.appendAndWait("enroll.tpm.allowed", enrolled.name(), detail);
      return enrolled;
    } catch (com.fasterxml.jackson.core.JsonProcessingException ex) {
      throw new IllegalStateException(ex);
    } finally {
      Arrays.fill(s.secret(), (byte) 0);
    }
  }

  private Refused deny(String reason, InetAddress source) {
    audit.appendAndWait("enroll.tpm.denied", "", Map.of("reason", reason, "source", source.getHostAddress()));
    return new Refused(reason);
  }

  private static boolean verifies(PublicKey key, byte[] data, byte[] derSignature) {
    if (data == null || derSignature == null || derSignature.length > 160) return false;
    try {
      Signature v = Signature.getInstance("SHA256withECDSA");
      v.initVerify(key);
      v.update(data);
      return v.verify(derSignature);
    } catch (Exception e) {
      return false;
    }
  }

  private static PublicKey csrKey(String pem) {
    try {
      return new JcaPKCS10CertificationRequest(Pem.csr(pem)).getPublicKey();
    } catch (Exception e) {
      throw new IllegalArgumentException("the CSR cannot be read");
    }
  }

  private static String describe(TpmPublic ek) {
    if (ek.isRsa()) return "RSA";
    int bits = ((ECPublicKey) ek.publicKey()).getParams().getCurve().getField().getFieldSize();
    return "ECC P-" + bits;
  }
}
