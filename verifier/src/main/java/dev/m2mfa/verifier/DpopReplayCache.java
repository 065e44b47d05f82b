package dev.m2mfa.verifier;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Remembers the {@code jti} of every accepted DPoP proof until the proof's {@code iat} window
 * closes, after which the proof would be refused for its age anyway.
 *
 * <p>Keys are the first 128 bits of SHA-256(key thumbprint, 0, jti), so an entry has a fixed
 * size whatever the client sends, and one key's proofs cannot collide with another's. The map
 * is bounded: expired entries are swept about once a second and whenever the map is full; if
 * it is still full of live entries the proof is refused ({@link Result#FULL}) rather than an
 * entry evicted early, since an early eviction would let that proof be replayed. Only proofs
 * that passed every other check are remembered, so only holders of valid tokens and keys can
 * fill it.
 */
final class DpopReplayCache {

    enum Result { FRESH, REPLAYED, FULL }

    private record Key(long hi, long lo) {
    }

    private static final long SWEEP_EVERY_MILLIS = 1000;

    private final int maxEntries;
    private final ConcurrentHashMap<Key, Long> expiries = new ConcurrentHashMap<>();
    private final ReentrantLock sweepLock = new ReentrantLock();
    private volatile long nextSweepMillis;

    DpopReplayCache(int maxEntries) {
        this.maxEntries = maxEntries;
    }

    /**
     * Records the proof identified by ({@code jkt}, {@code jti}), valid until
     * {@code expiresAtMillis}, and says whether it was seen before.
     */
    Result remember(String jkt, String jti, long expiresAtMillis, long nowMillis) {
        if (nowMillis >= nextSweepMillis && sweepLock.tryLock()) {
            try {
                sweep(nowMillis);
            } finally {
                sweepLock.unlock();
            }
        }
        Key key = key(jkt, jti);
        Long previous = expiries.get(key);
        if (previous != null) {
            if (previous > nowMillis) {
                return Result.REPLAYED;
            }
            // An expired entry not yet swept: take it over, unless another thread just did.
            return expiries.replace(key, previous, expiresAtMillis) ? Result.FRESH : Result.REPLAYED;
        }
        if (expiries.mappingCount() >= maxEntries) {
            sweepLock.lock();
            try {
                if (expiries.mappingCount() >= maxEntries) {
                    sweep(nowMillis);
                }
            } finally {
                sweepLock.unlock();
            }
            if (expiries.mappingCount() >= maxEntries) {
                return Result.FULL;
            }
        }
        previous = expiries.putIfAbsent(key, expiresAtMillis);
        if (previous == null) {
            return Result.FRESH;
        }
        if (previous <= nowMillis && expiries.replace(key, previous, expiresAtMillis)) {
            return Result.FRESH;
        }
        return Result.REPLAYED;
    }

    long size() {
        return expiries.mappingCount();
    }

    private void sweep(long nowMillis) {
        expiries.values().removeIf(expiry -> expiry <= nowMillis);
        nextSweepMillis = nowMillis + SWEEP_EVERY_MILLIS;
    }

    private static Key key(String jkt, String jti) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM.", e);
        }
        sha.update(jkt.getBytes(StandardCharsets.UTF_8));
        sha.update((byte) 0);
        ByteBuffer d = ByteBuffer.wrap(sha.digest(jti.getBytes(StandardCharsets.UTF_8)));
        return new Key(d.getLong(), d.getLong());
    }
}
