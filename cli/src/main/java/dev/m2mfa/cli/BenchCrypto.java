package dev.m2mfa.cli;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.m2mfa.api.LoginTranscript;
import dev.m2mfa.api.pki.KeyFiles;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.interfaces.ECPrivateKey;
import java.security.spec.NamedParameterSpec;
import java.time.Instant;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.crypto.KeyAgreement;
import org.bouncycastle.jce.provider.BouncyCastleProvider;

/**
 * The public-key operations a login needs, each measured alone, with the providers the code
 * really uses:
 *
 * <ul>
 * <li>TLS 1.3 (JSSE, so the JDK's SunEC provider): ECDSA P-256 {@code SHA256withECDSA} sign
 *     and verify (CertificateVerify, certificate chains), X25519 (one ephemeral key pair and
 *     one agreement per side; the group JSSE negotiates by default), and the P-256 key pair of
 *     the client's second key share.</li>
 * <li>The agent's transcript signature: {@code SoftwareKey.sign}, BouncyCastle
 *     {@code SHA256withECDSA} over the transcript bytes.</li>
 * <li>The authority's transcript check: {@code KeyFactorVerifier}, BouncyCastle
 *     {@code NONEwithECDSA} over the 32-byte digest, with a JDK-decoded public key.</li>
 * <li>The token signature: {@code SigningKeyring}'s Nimbus {@link ECDSASigner} with the
 *     BouncyCastle provider (ES256).</li>
 * </ul>
 *
 * Each operation gets its JCA objects per call, as the code does ({@code Signature.getInstance}
 * per signature).
 */
final class BenchCrypto {
  static final Provider BC = new BouncyCastleProvider();
  private static final SecureRandom RANDOM = new SecureRandom();

  /** Operation names, also the JSON keys. */
  static final String TLS_ECDSA_SIGN = "tls_ecdsa_p256_sign_jdk";
  static final String TLS_ECDSA_VERIFY = "tls_ecdsa_p256_verify_jdk";
  static final String TLS_X25519 = "tls_x25519_keygen_and_agree_jdk";
  static final String TLS_P256_KEYSHARE = "tls_p256_keyshare_keygen_jdk";
  static final String TRANSCRIPT_SIGN = "transcript_es256_sign_bc";
  static final String TRANSCRIPT_VERIFY = "transcript_es256_verify_bc";
  static final String TOKEN_SIGN = "token_es256_sign_bc";
  /** otp-chain (in the default class): the authority seals the next secret, the agent opens it (HPKE, BouncyCastle). */
  static final String OTP_SEAL = "otp_hpke_seal_bc";
  static final String OTP_OPEN = "otp_hpke_open_bc";

  private BenchCrypto() {}

  /**
   * Public-key operations per login, by operation.
   *
   * <p>Full handshake: the agent presents its machine certificate (the token carries
   * {@code cnf.x5t#S256}), so TLS 1.3 is mutual: each side signs one CertificateVerify and
   * verifies the other's. The certificate chains (leaf and issuing CA, 2 ECDSA verifies per
   * side) are also checked on every handshake, but the JDK verifies a given certificate
   * against a given key only once: its {@code X509Factory} cache hands back the same
   * certificate object for the same bytes and {@code X509CertImpl.verify} remembers the
   * result. So in a steady stream of logins to one authority the chains cost no ECDSA verify;
   * {@link #chainCounts} gives the variant that counts them.
   *
   * <p>Key exchange: the JDK client sends two key shares, X25519 and secp256r1, so it also
   * generates a P-256 key pair on every handshake, which the server (choosing X25519) never
   * uses. The authority and the agent each make one X25519 key pair and one agreement.
   *
   * <p>Resumed handshake (PSK with ECDHE): no certificate, no CertificateVerify; the key shares
   * as above.
   *
   * <p>These counts were checked with JFR method timing ({@code -XX:StartFlightRecording:
   * method-timing=...} on the SunEC and BouncyCastle sign, verify, key generation and
   * agreement methods) over 50 logins: exactly these numbers per login, in both modes.
   */
  static Map<String, Integer> loginCounts(boolean fullHandshake) {
    Map<String, Integer> m = new LinkedHashMap<>();
    m.put(TLS_ECDSA_SIGN, fullHandshake ? 2 : 0);
    m.put(TLS_ECDSA_VERIFY, fullHandshake ? 2 : 0);
    m.put(TLS_X25519, 2);
    m.put(TLS_P256_KEYSHARE, 1);
    m.put(TRANSCRIPT_SIGN, 1);
    m.put(TRANSCRIPT_VERIFY, 1);
    m.put(TOKEN_SIGN, 1);
    m.put(OTP_SEAL, 1);
    m.put(OTP_OPEN, 1);
    return m;
  }

  /** The full-handshake counts if certificate chains were verified every time (no JDK cache): 4 more verifies. */
  static Map<String, Integer> chainCounts() {
    Map<String, Integer> m = loginCounts(true);
    m.put(TLS_ECDSA_VERIFY, 2 + 4);
    return m;
  }

  /**
   * The list of the original benchmark brief: server-only TLS authentication (server sign,
   * 2 chain verifies on the client), 2 X25519, transcript sign and verify, token sign.
   */
  static Map<String, Integer> briefCounts() {
    Map<String, Integer> m = loginCounts(true);
    m.put(TLS_ECDSA_SIGN, 1);
    m.put(TLS_ECDSA_VERIFY, 2);
    m.put(TLS_P256_KEYSHARE, 0);
    m.put(OTP_SEAL, 0); // the brief predates the otp-chain factor
    m.put(OTP_OPEN, 0);
    return m;
  }

  /** Logins per second if only the counted operations ran, each at its measured rate. */
  static double floor(Map<String, BenchSupport.Rate> rates, Map<String, Integer> counts) {
    double secondsPerLogin = 0;
    for (var e : counts.entrySet()) {
      if (e.getValue() == 0) continue;
      secondsPerLogin += e.getValue() / rates.get(e.getKey()).perSecond();
    }
    return 1.0 / secondsPerLogin;
  }

  /** CPU milliseconds the counted operations take per login, from each one's measured CPU time. */
  static double cpuMillis(Map<String, BenchSupport.Rate> rates, Map<String, Integer> counts) {
    double micros = 0;
    for (var e : counts.entrySet()) micros += e.getValue() * rates.get(e.getKey()).cpuMicrosPerOp();
    return micros / 1000;
  }

  /** Measures every login operation on {@code threads} threads. */
  static Map<String, BenchSupport.Rate> loginOpRates(int threads, long warmupMillis, long measureMillis, BenchSupport.Progress progress)
      throws Exception {
    KeyPair tlsKey = KeyFiles.newP256(); // the authority's TLS key: KeyFiles.newP256, SunEC
    KeyPair machineKey = KeyFiles.newP256(); // the agent's identity key, also generated by KeyFiles.newP256
    KeyPair signingKey = KeyFiles.newP256(); // the token signing key
    byte[] certificateVerifyInput = certificateVerifyInput();
    byte[] tlsSignature = sign("SHA256withECDSA", null, tlsKey.getPrivate(), certificateVerifyInput);
    byte[] challenge = sampleChallenge();
    byte[] evidence = "{\"key\":{},\"network\":{}}".getBytes(StandardCharsets.UTF_8);
    byte[] exporter = new byte[LoginTranscript.EXPORTER_LENGTH];
    RANDOM.nextBytes(exporter);
    byte[] transcript = LoginTranscript.bytes(challenge, exporter, evidence);
    byte[] digest = LoginTranscript.digest(challenge, exporter, evidence);
    byte[] transcriptSignature = sign("SHA256withECDSA", BC, machineKey.getPrivate(), transcript);
    PublicKey storedMachineKey = java.security.KeyFactory.getInstance("EC")
        .generatePublic(new java.security.spec.X509EncodedKeySpec(machineKey.getPublic().getEncoded()));
    KeyPair peerX25519 = x25519Pair();
    ECDSASigner tokenSigner = new ECDSASigner((ECPrivateKey) signingKey.getPrivate());
    tokenSigner.getJCAContext().setProvider(BC);
    SignedJWT sampleToken = sampleToken();
    JWSHeader tokenHeader = sampleToken.getHeader();
    byte[] tokenSigningInput = sampleToken.getSigningInput();

    Map<String, BenchSupport.OpFactory> ops = new LinkedHashMap<>();
    ops.put(TLS_ECDSA_SIGN, () -> () -> sign("SHA256withECDSA", null, tlsKey.getPrivate(), certificateVerifyInput));
    ops.put(TLS_ECDSA_VERIFY, () -> () -> check(verify("SHA256withECDSA", null, tlsKey.getPublic(), certificateVerifyInput, tlsSignature)));
    ops.put(TLS_X25519, () -> () -> x25519(peerX25519.getPublic()));
    ops.put(TLS_P256_KEYSHARE, () -> () -> KeyFiles.newP256());
    ops.put(TRANSCRIPT_SIGN, () -> () -> sign("SHA256withECDSA", BC, machineKey.getPrivate(), transcript));
    ops.put(TRANSCRIPT_VERIFY, () -> () -> check(verify("NONEwithECDSA", BC, storedMachineKey, digest, transcriptSignature)));
    ops.put(TOKEN_SIGN, () -> () -> tokenSigner.sign(tokenHeader, tokenSigningInput));
    var chainKey = dev.m2mfa.api.otp.OtpEnvelope.newChainKey();
    byte[] chainPublic = dev.m2mfa.api.otp.OtpEnvelope.publicKey(chainKey);
    byte[] secret = new byte[dev.m2mfa.api.otp.OtpEnvelope.SECRET_BYTES];
    var sealed = dev.m2mfa.api.otp.OtpEnvelope.seal(chainPublic, "bench", secret);
    ops.put(OTP_SEAL, () -> () -> dev.m2mfa.api.otp.OtpEnvelope.seal(chainPublic, "bench", secret));
    ops.put(OTP_OPEN, () -> () -> dev.m2mfa.api.otp.OtpEnvelope.open(chainKey, "bench", sealed));
    Map<String, BenchSupport.Rate> rates = new LinkedHashMap<>();
    for (var e : ops.entrySet()) {
      progress.say("crypto floor: %s on %d thread(s)", e.getKey(), threads);
      rates.put(e.getKey(), BenchSupport.rate(threads, warmupMillis, measureMillis, e.getValue()));
    }
    return rates;
  }

  static byte[] sign(String alg, Provider provider, PrivateKey key, byte[] data) throws Exception {
    Signature s = provider == null ? Signature.getInstance(alg) : Signature.getInstance(alg, provider);
    s.initSign(key);
    s.update(data);
    return s.sign();
  }

  static boolean verify(String alg, Provider provider, PublicKey key, byte[] data, byte[] sig) throws Exception {
    Signature s = provider == null ? Signature.getInstance(alg) : Signature.getInstance(alg, provider);
    s.initVerify(key);
    s.update(data);
    return s.verify(sig);
  }

  static void check(boolean ok) {
    if (!ok) throw new IllegalStateException("a benchmark signature did not verify");
  }

  /** One side of an X25519 exchange as JSSE does it: a fresh key pair, then the agreement. */
  static byte[] x25519(PublicKey peer) throws Exception {
    KeyPair mine = x25519Pair();
    KeyAgreement ka = KeyAgreement.getInstance("XDH");
    ka.init(mine.getPrivate());
    ka.doPhase(peer, true);
    return ka.generateSecret();
  }

  static KeyPair x25519Pair() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("XDH");
    g.initialize(NamedParameterSpec.X25519);
    return g.generateKeyPair();
  }

  /** The TLS 1.3 CertificateVerify signed content: 64 spaces, context string, 0, transcript hash. */
  static byte[] certificateVerifyInput() {
    byte[] context = "TLS 1.3, server CertificateVerify".getBytes(StandardCharsets.US_ASCII);
    byte[] out = new byte[64 + context.length + 1 + 32];
    java.util.Arrays.fill(out, 0, 64, (byte) 0x20);
    System.arraycopy(context, 0, out, 64, context.length);
    byte[] hash = new byte[32];
    RANDOM.nextBytes(hash);
    System.arraycopy(hash, 0, out, 64 + context.length + 1, 32);
    return out;
  }

  /** A challenge document shaped like LoginService.start's. */
  static byte[] sampleChallenge() {
    byte[] session = new byte[16];
    byte[] nonce = new byte[32];
    RANDOM.nextBytes(session);
    RANDOM.nextBytes(nonce);
    var b64 = java.util.Base64.getUrlEncoder().withoutPadding();
    return ("{\"session\":\"" + b64.encodeToString(session) + "\",\"nonce\":\"" + b64.encodeToString(nonce)
        + "\",\"machine\":\"bench-0001\",\"audience\":\"bench\",\"factors\":{\"key\":{\"alg\":\"ES256\",\"binding\":\"tls-exporter\"},"
        + "\"network\":{}},\"expires_at\":" + (System.currentTimeMillis() + 30_000) + "}").getBytes(StandardCharsets.UTF_8);
  }

  /** An unsigned token with the claims TokenIssuer puts in (same sizes). */
  static SignedJWT sampleToken() {
    Instant now = Instant.now();
    byte[] id = new byte[16];
    RANDOM.nextBytes(id);
    var b64 = java.util.Base64.getUrlEncoder().withoutPadding();
    JWTClaimsSet claims = new JWTClaimsSet.Builder().issuer("spiffe://m2mfa.local").subject("spiffe://m2mfa.local/machine/bench-0001")
        .audience("bench").claim("client_id", "bench-0001").issueTime(Date.from(now)).notBeforeTime(Date.from(now))
        .expirationTime(Date.from(now.plusSeconds(300))).jwtID(b64.encodeToString(id)).claim("amr", List.of("key", "network"))
        .claim("acr", "m2mfa:2fa").claim("cnf", Map.of("jkt", b64.encodeToString(new byte[32]), "x5t#S256", b64.encodeToString(new byte[32])))
        .build();
    return new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).type(new JOSEObjectType("at+jwt"))
        .keyID(b64.encodeToString(new byte[32])).build(), claims);
  }
}
