package dev.m2mfa.authority.ssh;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.m2mfa.authority.store.MachineRecord;
import dev.m2mfa.authority.store.Store;
import dev.m2mfa.authority.token.Crypto;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Authenticates a machine at the SSH certificate endpoints with an access token it got from a
 * full login for audience {@value #AUDIENCE}, sender-constrained by a DPoP proof (RFC 9449).
 *
 * <p>Why not the verifier module: its checks are package-private behind {@code TokenVerifier},
 * which is built for relying services (JWKS over HTTP, revocation stream). The authority holds
 * the signing keys and the machine table itself, so it checks against those directly, and
 * stricter: the machine must be active in the store <em>now</em> (no staleness window) and the
 * token's {@code cnf.jkt} must be the key enrolled now.
 *
 * <p>Checks, in order; every failure is the same {@link Refused} (the reason goes to the audit
 * log only): {@code Authorization: DPoP <jws>} (Bearer is refused: these endpoints want proof of
 * possession), both headers at most 8 KiB; token header {@code ES256}, {@code typ at+jwt}, no
 * {@code crit}, a {@code kid} in the authority's published keys; signature; {@code iss},
 * {@code aud} contains {@value #AUDIENCE}, {@code exp} in the future, {@code iat}/{@code nbf} not
 * in the future; proof header {@code dpop+jwt}/ES256 with a public P-256 {@code jwk} whose
 * thumbprint equals {@code cnf.jkt} (before the signature), proof signature, {@code htm},
 * {@code htu}, {@code iat} within ±60 s, {@code ath}; the machine active, its SPIFFE ID equal to
 * {@code sub} and its key thumbprint equal to {@code cnf.jkt}; last, the proof's {@code jti} in
 * a bounded replay cache (full means refuse, never evict early).
 */
public final class SshRequestAuthenticator {
  public static final String AUDIENCE = "m2mfa:ssh";
  static final int MAX_HEADER = 8 * 1024;
  private static final Duration PROOF_WINDOW = Duration.ofSeconds(60);
  private static final Duration FUTURE_SKEW = Duration.ofSeconds(5);
  private static final int MAX_REPLAY_ENTRIES = 100_000;

  private final Store store;
  private final String issuer;
  private final Supplier<String> jwksJson;
  private final ConcurrentHashMap<String, Long> seenProofs = new ConcurrentHashMap<>();
  private volatile String cachedJwksText;
  private volatile JWKSet cachedJwks;
  private volatile long lastSweep;

  public SshRequestAuthenticator(Store store, String issuer, Supplier<String> jwksJson) {
    this.store = store;
    this.issuer = issuer;
    this.jwksJson = jwksJson;
  }

  /**
   * The machine the request speaks for.
   *
   * @param acr the token's {@code acr} claim (the level its login reached), empty if it has none
   */
  public record Caller(MachineRecord machine, String tokenJti, Optional<String> acr) {}

  /** Authentication failed; {@code reason} is for the audit log, never for the client. */
  public static final class Refused extends Exception {
    private final String reason;

    Refused(String reason) {
      super(reason, null, false, false);
      this.reason = reason;
    }

    public String reason() {
      return reason;
    }
  }

  /**
   * @param untrustedAuthorization the single {@code Authorization} header (null if absent)
   * @param untrustedDpop the single {@code DPoP} header (null if absent)
   * @param method the request method
   * @param requestUri the request URI as the server saw it
   */
  public Caller authenticate(String untrustedAuthorization, String untrustedDpop, String method, URI requestUri, Instant now)
      throws Refused {
    if (untrustedAuthorization == null) throw new Refused("no Authorization header");
    if (untrustedAuthorization.length() > MAX_HEADER) throw new Refused("Authorization header too long");
    int space = untrustedAuthorization.indexOf(' ');
    String scheme = space < 0 ? untrustedAuthorization : untrustedAuthorization.substring(0, space);
    if (!"dpop".equals(scheme.toLowerCase(Locale.ROOT))) throw new Refused("scheme is not DPoP");
    String token = untrustedAuthorization.substring(space + 1).strip();
    if (untrustedDpop == null) throw new Refused("no DPoP proof");
    if (untrustedDpop.length() > MAX_HEADER) throw new Refused("DPoP header too long");
    try {
      SignedJWT jwt = SignedJWT.parse(token);
      JWSHeader h = jwt.getHeader();
      if (!JWSAlgorithm.ES256.equals(h.getAlgorithm())) throw new Refused("token alg is not ES256");
      if (h.getType() == null || !("at+jwt".equals(h.getType().toString()) || "application/at+jwt".equals(h.getType().toString()))) {
        throw new Refused("token typ is not at+jwt");
      }
      if (h.getCriticalParams() != null && !h.getCriticalParams().isEmpty()) throw new Refused("token has crit");
      JWK key = h.getKeyID() == null ? null : jwks().getKeyByKeyId(h.getKeyID());
      if (!(key instanceof ECKey ec)) throw new Refused("unknown token kid");
      if (!jwt.verify(verifier(ec))) throw new Refused("bad token signature");
      JWTClaimsSet c = jwt.getJWTClaimsSet();
      if (!issuer.equals(c.getIssuer())) throw new Refused("wrong issuer");
      if (c.getAudience() == null || !c.getAudience().contains(AUDIENCE)) throw new Refused("wrong audience");
      if (c.getExpirationTime() == null || !c.getExpirationTime().toInstant().isAfter(now)) throw new Refused("token expired");
      Instant latest = now.plus(FUTURE_SKEW);
      if (c.getIssueTime() == null || c.getIssueTime().toInstant().isAfter(latest)) throw new Refused("token iat in the future");
      if (c.getNotBeforeTime() != null && c.getNotBeforeTime().toInstant().isAfter(latest)) throw new Refused("token not yet valid");
      String sub = c.getSubject();
      String clientId = c.getStringClaim("client_id");
      Map<String, Object> cnf = c.getJSONObjectClaim("cnf");
      Object jkt = cnf == null ? null : cnf.get("jkt");
      if (sub == null || clientId == null || !(jkt instanceof String expectedJkt)) throw new Refused("token claims missing");

      SignedJWT proof = SignedJWT.parse(untrustedDpop);
      JWSHeader ph = proof.getHeader();
      if (!JWSAlgorithm.ES256.equals(ph.getAlgorithm()) || ph.getType() == null
          || !new JOSEObjectType("dpop+jwt").equals(ph.getType())
          || (ph.getCriticalParams() != null && !ph.getCriticalParams().isEmpty())) {
        throw new Refused("proof header");
      }
      if (!(ph.getJWK() instanceof ECKey pk) || !Curve.P_256.equals(pk.getCurve()) || pk.isPrivate()) throw new Refused("proof jwk");
      if (!constantTimeEquals(pk.computeThumbprint().toString(), expectedJkt)) throw new Refused("proof key is not cnf.jkt");
      if (!proof.verify(verifier(pk))) throw new Refused("bad proof signature");
      JWTClaimsSet pc = proof.getJWTClaimsSet();
      String htm = pc.getStringClaim("htm");
      String htu = pc.getStringClaim("htu");
      String ath = pc.getStringClaim("ath");
      String jti = pc.getJWTID();
      Date iat = pc.getIssueTime();
      if (htm == null || htu == null || ath == null || jti == null || iat == null) throw new Refused("proof claims missing");
      if (!htm.equals(method)) throw new Refused("proof htm");
      if (!normalize(URI.create(htu)).equals(normalize(requestUri))) throw new Refused("proof htu");
      if (iat.toInstant().isBefore(now.minus(PROOF_WINDOW)) || iat.toInstant().isAfter(now.plus(PROOF_WINDOW))) {
        throw new Refused("proof iat outside the window");
      }
      if (jti.isEmpty() || jti.length() > 256) throw new Refused("proof jti");
      if (!constantTimeEquals(ath, sha256b64(token))) throw new Refused("proof ath");

      Optional<MachineRecord> m = store.machines().find(clientId);
      if (m.isEmpty() || !m.get().active()) throw new Refused("unknown or inactive machine");
      if (!m.get().spiffeId().equals(sub)) throw new Refused("sub does not match the machine");
      if (!constantTimeEquals(m.get().keyThumbprint(), expectedJkt)) throw new Refused("token bound to another key");
      remember(expectedJkt, jti, iat.toInstant().plus(PROOF_WINDOW).toEpochMilli(), now.toEpochMilli());
      return new Caller(m.get(), c.getJWTID(), Optional.ofNullable(c.getStringClaim("acr")));
    } catch (Refused r) {
      throw r;
    } catch (java.text.ParseException | com.nimbusds.jose.JOSEException | IllegalArgumentException e) {
      throw new Refused("malformed token or proof");
    }
  }

  /** ES256 on BouncyCastle, like the rest of the authority's hot paths ({@link Crypto}). */
  private static ECDSAVerifier verifier(ECKey key) throws com.nimbusds.jose.JOSEException {
    ECDSAVerifier v = new ECDSAVerifier(key);
    v.getJCAContext().setProvider(Crypto.provider());
    return v;
  }

  private JWKSet jwks() throws java.text.ParseException {
    String text = jwksJson.get();
    if (text != cachedJwksText) {
      cachedJwks = JWKSet.parse(text);
      cachedJwksText = text;
    }
    return cachedJwks;
  }

  private void remember(String jkt, String jti, long expiresAt, long now) throws Refused {
    if (now - lastSweep > 1000 || seenProofs.size() >= MAX_REPLAY_ENTRIES) {
      lastSweep = now;
      seenProofs.values().removeIf(exp -> exp < now);
    }
    if (seenProofs.size() >= MAX_REPLAY_ENTRIES) throw new Refused("proof replay cache full");
    if (seenProofs.putIfAbsent(sha256b64(jkt + "\0" + jti), expiresAt) != null) throw new Refused("proof replayed");
  }

  /** Scheme and host lower-cased, default port dropped, no query or fragment. */
  static String normalize(URI u) {
    String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
    String host = u.getHost() == null ? "" : u.getHost().toLowerCase(Locale.ROOT);
    int port = u.getPort();
    if ("https".equals(scheme) && port == 443) port = -1;
    String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
    return scheme + "://" + host + (port < 0 ? "" : ":" + port) + path;
  }

  private static String sha256b64(String s) {
    try {
      return Base64.getUrlEncoder().withoutPadding()
          .encodeToString(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static boolean constantTimeEquals(String a, String b) {
    return a != null && b != null && MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
  }
}
