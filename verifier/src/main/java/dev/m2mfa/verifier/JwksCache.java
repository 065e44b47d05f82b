package dev.m2mfa.verifier;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The authority's signing keys, by {@code kid}, from {@code GET /.well-known/jwks.json}.
 *
 * <p>Lookups read an immutable map through a volatile field and never block. A lookup of an
 * unknown {@code kid} may refetch the set, but at most once per {@code minRefetchInterval}
 * (measured on the monotonic clock), so tokens with made-up {@code kid}s cannot turn the
 * verifier into a load generator against the authority. Threads that miss while a fetch is in
 * flight wait for it (bounded by the HTTP timeouts) rather than refuse, so a key rotation does
 * not cause a burst of refusals.
 *
 * <p>Only EC P-256 public keys with a {@code kid}, {@code use} absent or {@code sig}, and
 * {@code alg} absent or {@code ES256} are kept. A key published with its private part, or a
 * {@code kid} published twice, is dropped: the authority is misbehaving and such keys are not
 * trusted. A failed fetch keeps the keys already known.
 */
final class JwksCache {

    static final int MAX_JWKS_BYTES = 64 * 1024;

    private static final System.Logger LOG = System.getLogger(JwksCache.class.getName());

    private final AuthorityHttp http;
    private final URI jwksUri;
    private final long minRefetchNanos;
    private final VerifierMetrics metrics;
    private final ReentrantLock fetchLock = new ReentrantLock();

    private volatile Map<String, ECDSAVerifier> keys = Map.of();
    private volatile boolean closed;
    private boolean attempted; // guarded by fetchLock
    private long lastAttemptNanos; // guarded by fetchLock

    JwksCache(AuthorityHttp http, URI jwksUri, Duration minRefetchInterval, VerifierMetrics metrics) {
        this.http = http;
        this.jwksUri = jwksUri;
        this.minRefetchNanos = minRefetchInterval.toNanos();
        this.metrics = metrics;
    }

    /** The verifier for {@code kid}, refetching the set once if allowed; null if unknown. */
    ECDSAVerifier find(String kid) throws InterruptedException {
        ECDSAVerifier v = keys.get(kid);
        if (v != null) {
            return v;
        }
        fetchLock.lockInterruptibly();
        try {
            v = keys.get(kid);
            if (v != null) {
                return v; // fetched by another thread while we waited
            }
            long now = System.nanoTime();
            if (attempted && now - lastAttemptNanos < minRefetchNanos) {
                return null;
            }
            fetchLocked(now);
            return keys.get(kid);
        } finally {
            fetchLock.unlock();
        }
    }

    /** Fetches the set now, ignoring the rate limit (start-up and periodic refresh). */
    void refresh() throws InterruptedException {
        fetchLock.lockInterruptibly();
        try {
            fetchLocked(System.nanoTime());
        } finally {
            fetchLock.unlock();
        }
    }

    int size() {
        return keys.size();
    }

    /** Stops fetching; known keys stay usable (the verifier refuses everything once closed). */
    void close() {
        closed = true;
    }

    private void fetchLocked(long nowNanos) throws InterruptedException {
        if (closed) {
            return;
        }
        attempted = true;
        lastAttemptNanos = nowNanos;
        metrics.jwksFetch();
        try {
            byte[] body = http.getBounded(jwksUri, MAX_JWKS_BYTES);
            keys = parse(new String(body, StandardCharsets.UTF_8));
        } catch (IOException | ParseException e) {
            if (closed) {
                return; // the client was shut down under us
            }
            metrics.jwksFetchFailure();
            LOG.log(Level.WARNING, "m2mfa verifier: could not fetch the JWKS from {0}: {1}", jwksUri, e.getMessage());
        }
    }

    static Map<String, ECDSAVerifier> parse(String json) throws ParseException {
        JWKSet set = JWKSet.parse(json);
        Map<String, ECDSAVerifier> out = new HashMap<>();
        Set<String> duplicates = new HashSet<>();
        for (JWK jwk : set.getKeys()) {
            String kid = jwk.getKeyID();
            if (kid == null || !(jwk instanceof ECKey ec) || !Curve.P_256.equals(ec.getCurve()) || ec.isPrivate()) {
                continue;
            }
            if (jwk.getKeyUse() != null && !KeyUse.SIGNATURE.equals(jwk.getKeyUse())) {
                continue;
            }
            if (jwk.getAlgorithm() != null && !JWSAlgorithm.ES256.equals(jwk.getAlgorithm())) {
                continue;
            }
            try {
                if (out.putIfAbsent(kid, Es256.verifier(ec)) != null) {
                    duplicates.add(kid);
                }
            } catch (JOSEException e) {
                // not a usable P-256 public key: skip it
            }
        }
        out.keySet().removeAll(duplicates);
        return Map.copyOf(out);
    }
}
