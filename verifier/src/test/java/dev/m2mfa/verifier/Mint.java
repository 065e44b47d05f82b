package dev.m2mfa.verifier;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Consumer;

/** Mints access tokens as the authority would, and DPoP proofs as an agent would. */
final class Mint {

    static final String ISSUER = "spiffe://m2mfa.local";
    static final String AUDIENCE = "billing";
    static final String MACHINE = "web-1";
    static final String SUBJECT = "spiffe://m2mfa.local/machine/web-1";

    final ECKey authorityKey;
    final ECKey machineKey;
    final Instant now;

    Mint(Instant now) {
        this.now = now;
        this.authorityKey = newKey("k1");
        this.machineKey = newKey(null);
    }

    static ECKey newKey(String kid) {
        try {
            ECKeyGenerator g = new ECKeyGenerator(Curve.P_256);
            if (kid != null) {
                g.keyID(kid).keyUse(KeyUse.SIGNATURE).algorithm(JWSAlgorithm.ES256);
            }
            return g.generate();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The JWKS publishing the public halves of {@code keys}. */
    static String jwks(ECKey... keys) {
        return new JWKSet(List.of(keys)).toPublicJWKSet().toString();
    }

    static String jkt(ECKey key) {
        try {
            return key.toPublicJWK().computeThumbprint("SHA-256").toString();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    static String x5t(X509Certificate cert) {
        try {
            return Base64URL.encode(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded())).toString();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** The default claims of a DPoP-bound token for {@link #MACHINE}. */
    JWTClaimsSet.Builder claims() {
        return new JWTClaimsSet.Builder()
                .issuer(ISSUER)
                .subject(SUBJECT)
                .claim("client_id", MACHINE)
                .audience(AUDIENCE)
                .issueTime(Date.from(now))
                .notBeforeTime(Date.from(now))
                .expirationTime(Date.from(now.plusSeconds(300)))
                .jwtID(UUID.randomUUID().toString())
                .claim("amr", List.of("key", "network"))
                .claim("acr", "m2mfa:2fa")
                .claim("cnf", Map.of("jkt", jkt(machineKey)));
    }

    JWSHeader.Builder header(ECKey signer) {
        return new JWSHeader.Builder(JWSAlgorithm.ES256).type(new JOSEObjectType("at+jwt")).keyID(signer.getKeyID());
    }

    String token() {
        return token(c -> { });
    }

    String token(Consumer<JWTClaimsSet.Builder> edit) {
        JWTClaimsSet.Builder c = claims();
        edit.accept(c);
        return sign(header(authorityKey).build(), c.build(), authorityKey);
    }

    static String sign(JWSHeader header, JWTClaimsSet claims, ECKey key) {
        try {
            SignedJWT jwt = new SignedJWT(header, claims);
            jwt.sign(new ECDSASigner(key));
            return jwt.serialize();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The default claims of a DPoP proof for {@code token}. */
    JWTClaimsSet.Builder proofClaims(String method, String htu, String token) {
        return new JWTClaimsSet.Builder()
                .claim("htm", method)
                .claim("htu", htu)
                .issueTime(Date.from(now))
                .jwtID(UUID.randomUUID().toString())
                .claim("ath", ath(token));
    }

    static String ath(String token) {
        try {
            return Base64URL.encode(MessageDigest.getInstance("SHA-256")
                    .digest(token.getBytes(StandardCharsets.US_ASCII))).toString();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    JWSHeader.Builder proofHeader(ECKey jwk) {
        return new JWSHeader.Builder(JWSAlgorithm.ES256).type(new JOSEObjectType("dpop+jwt")).jwk(jwk.toPublicJWK());
    }

    String proof(String method, String htu, String token) {
        return proof(method, htu, token, c -> { });
    }

    String proof(String method, String htu, String token, Consumer<JWTClaimsSet.Builder> edit) {
        JWTClaimsSet.Builder c = proofClaims(method, htu, token);
        edit.accept(c);
        return sign(proofHeader(machineKey).build(), c.build(), machineKey);
    }
}
