package dev.m2mfa.verifier;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.JSONObjectUtils;
import dev.m2mfa.verifier.TokenRejectedException.Reason;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.Map;

/**
 * Checks a DPoP proof (RFC 9449 section 4.3) for one request and one access token. Every
 * failure is {@link Reason#BAD_PROOF}, except a reused {@code jti}, which is
 * {@link Reason#PROOF_REPLAYED}. The cheap checks run first, the signature next, the claims
 * after it, and the replay cache last, so only a proof that passed everything takes a slot.
 */
final class DpopProofChecker {

    /**
     * BC verifiers for proof keys, by RFC 7638 thumbprint (which names the key exactly): a
     * machine signs every proof with one key, and building BC's key object costs more than
     * the verification itself. Bounded; cleared when full.
     */
    private static final int MAX_PROOF_KEYS = 10_000;
    private final java.util.concurrent.ConcurrentHashMap<String, com.nimbusds.jose.crypto.ECDSAVerifier> proofKeys =
            new java.util.concurrent.ConcurrentHashMap<>();

    private com.nimbusds.jose.crypto.ECDSAVerifier proofVerifier(String thumbprint, ECKey key) throws com.nimbusds.jose.JOSEException {
        com.nimbusds.jose.crypto.ECDSAVerifier v = proofKeys.get(thumbprint);
        if (v == null) {
            if (proofKeys.size() >= MAX_PROOF_KEYS) {
                proofKeys.clear();
            }
            v = Es256.verifier(key);
            proofKeys.put(thumbprint, v);
        }
        return v;
    }


    static final int MAX_JTI_CHARS = 256;
    private static final JOSEObjectType DPOP_TYPE = new JOSEObjectType("dpop+jwt");

    private final Duration iatWindow;
    private final DpopReplayCache replayCache;

    DpopProofChecker(Duration iatWindow, DpopReplayCache replayCache) {
        this.iatWindow = iatWindow;
        this.replayCache = replayCache;
    }

    /**
     * @param untrustedProof the DPoP header value
     * @param method         the request's HTTP method
     * @param requestHtu     the request URI, already {@linkplain Htu#normalize normalized}
     * @param accessToken    the access token exactly as it appeared in the Authorization header
     * @param expectedJkt    the token's {@code cnf.jkt}
     */
    void check(String untrustedProof, String method, String requestHtu, String accessToken, String expectedJkt,
            Instant now) throws TokenRejectedException {
        try {
            CompactJws jws = CompactJws.parse(untrustedProof);
            if (!"ES256".equals(jws.alg())) {
                throw bad();
            }
            JWSHeader header = jws.header();
            if (!JWSAlgorithm.ES256.equals(header.getAlgorithm()) || header.getType() == null
                    || !DPOP_TYPE.toString().equalsIgnoreCase(header.getType().toString())
                    || (header.getCriticalParams() != null && !header.getCriticalParams().isEmpty())) {
                throw bad();
            }
            JWK jwk = header.getJWK();
            if (!(jwk instanceof ECKey ec) || !Curve.P_256.equals(ec.getCurve()) || ec.isPrivate()) {
                throw bad();
            }
            // Bound key first: a cheap hash that turns away proofs by any other key before the
            // (costlier) signature check.
            if (!constantTimeEquals(ec.computeThumbprint("SHA-256").toString(), expectedJkt)) {
                throw bad();
            }
            if (!proofVerifier(expectedJkt, ec).verify(header, jws.signingInput(), jws.signature())) {
                throw bad();
            }
            Map<String, Object> claims = jws.payloadJson();
            String htm = JSONObjectUtils.getString(claims, "htm");
            String htu = JSONObjectUtils.getString(claims, "htu");
            String jti = JSONObjectUtils.getString(claims, "jti");
            String ath = JSONObjectUtils.getString(claims, "ath");
            Date iatDate = JSONObjectUtils.getEpochSecondAsDate(claims, "iat");
            if (htm == null || htu == null || jti == null || ath == null || iatDate == null) {
                throw bad();
            }
            if (!htm.equals(method) || !Htu.normalize(new URI(htu)).equals(requestHtu)) {
                throw bad();
            }
            Instant iat = iatDate.toInstant();
            if (iat.isBefore(now.minus(iatWindow)) || iat.isAfter(now.plus(iatWindow))) {
                throw bad();
            }
            if (jti.isEmpty() || jti.length() > MAX_JTI_CHARS) {
                throw bad();
            }
            if (!constantTimeEquals(ath, accessTokenHash(accessToken))) {
                throw bad();
            }
            long expires = iat.plus(iatWindow).toEpochMilli();
            switch (replayCache.remember(expectedJkt, jti, expires, now.toEpochMilli())) {
                case FRESH -> {
                }
                case REPLAYED -> throw TokenRejectedException.of(Reason.PROOF_REPLAYED);
                case FULL -> throw bad();
            }
        } catch (ParseException | JOSEException | URISyntaxException | IllegalArgumentException e) {
            throw bad();
        }
    }

    private static TokenRejectedException bad() {
        return TokenRejectedException.of(Reason.BAD_PROOF);
    }

    /** {@code ath}: base64url(SHA-256(ASCII(token))). */
    static String accessTokenHash(String accessToken) {
        return Base64URL.encode(sha256(accessToken.getBytes(StandardCharsets.US_ASCII))).toString();
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM.", e);
        }
    }

    static boolean constantTimeEquals(String a, String b) {
        return a != null && b != null && MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8),
                b.getBytes(StandardCharsets.UTF_8));
    }
}
