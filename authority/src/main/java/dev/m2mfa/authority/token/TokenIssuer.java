package dev.m2mfa.authority.token;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Issues RFC 9068 access tokens ({@code typ: at+jwt}, ES256) bound to the machine's key:
 * {@code cnf.jkt} (RFC 9449) always, {@code cnf.x5t#S256} (RFC 8705) when the login came over
 * mTLS with the machine's certificate.
 */
public final class TokenIssuer {
  private static final SecureRandom RANDOM = new SecureRandom();
  private final SigningKeyring keys;
  private final String issuer;

  public TokenIssuer(SigningKeyring keys, String issuer) {
    this.keys = keys;
    this.issuer = issuer;
  }

  /** A freshly signed token. */
  public record IssuedToken(String jwt, String jti, Instant expiresAt) {
    @Override
    public String toString() {
      return "IssuedToken[jti=" + jti + ", exp=" + expiresAt + "]";
    }
  }

  public IssuedToken issue(String subject, String clientId, String audience, List<String> amr, String acr, String jkt,
      String x5tS256, Duration lifetime) {
    return issue(subject, clientId, audience, amr, acr, jkt, x5tS256, lifetime, -1);
  }

  /**
   * @param revocationSeq the latest revocation sequence number when the token is issued, as
   *     claim {@code rsq} (omitted when negative): a verifier refuses the token if its subject was
   *     reinstated at a later sequence number, so a revocation stays final for every token issued
   *     before it, whatever the clocks' granularity
   */
  public IssuedToken issue(String subject, String clientId, String audience, List<String> amr, String acr, String jkt,
      String x5tS256, Duration lifetime, long revocationSeq) {
    Instant now = Instant.now();
    Instant exp = now.plus(lifetime);
    byte[] id = new byte[16];
    RANDOM.nextBytes(id);
    String jti = Base64.getUrlEncoder().withoutPadding().encodeToString(id);
    Map<String, Object> cnf = new LinkedHashMap<>();
    cnf.put("jkt", jkt);
    if (x5tS256 != null) cnf.put("x5t#S256", x5tS256);
    JWTClaimsSet claims = new JWTClaimsSet.Builder()
        .issuer(issuer).subject(subject).audience(audience).claim("client_id", clientId)
        .issueTime(Date.from(now)).notBeforeTime(Date.from(now)).expirationTime(Date.from(exp)).jwtID(jti)
        .claim("amr", amr).claim("acr", acr).claim("cnf", cnf).claim("rsq", revocationSeq >= 0 ? revocationSeq : null).build();
    SigningKeyring.Primary p = keys.primary();
    SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).type(new JOSEObjectType("at+jwt")).keyID(p.kid()).build(), claims);
    try {
      jwt.sign(p.signer());
    } catch (JOSEException e) {
      throw new IllegalStateException("token signing failed", e);
    }
    return new IssuedToken(jwt.serialize(), jti, exp);
  }
}
