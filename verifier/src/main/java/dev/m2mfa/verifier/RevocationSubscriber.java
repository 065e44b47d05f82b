package dev.m2mfa.verifier;

import com.nimbusds.jose.util.JSONObjectUtils;
import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.net.http.HttpResponse;
import java.text.ParseException;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Keeps the set of revoked subjects in step with the authority's revocation stream
 * ({@code GET /v1/revocations/stream?after=N}, NDJSON).
 *
 * <p>One virtual thread reads the stream and is the only writer of the set and of the sequence
 * number; verifying threads only read ({@link #isRevoked}, {@link #fresh}). The first
 * connection asks for {@code after=0} and must begin with a snapshot, which replaces the set;
 * later connections resume from the last applied {@code seq}. Revoke and reinstate lines at
 * or below the last applied {@code seq} are ignored, so a replayed old reinstate can never
 * undo a newer revoke.
 *
 * <p>Freshness is the time the last line arrived (monotonic clock). The data is fresh while
 * that is within the staleness bound and a snapshot has been applied; otherwise the verifier
 * fails closed. A heartbeat whose {@code seq} is ahead of ours means we missed lines: it does
 * not count as fresh, and we reconnect from our {@code seq}. A {@code seq} that went backwards
 * (the authority lost state) forces a fresh snapshot.
 *
 * <p>A second virtual thread, the watchdog, closes a connection that has been silent for half
 * the staleness bound, which unblocks the reader so it can reconnect: a half-open TCP
 * connection then costs at most that long. Reconnects back off from 100 ms to 2 s.
 */
final class RevocationSubscriber implements AutoCloseable {

    static final int MAX_LINE_BYTES = 4 * 1024 * 1024;
    static final Duration INITIAL_BACKOFF = Duration.ofMillis(100);
    static final Duration MAX_BACKOFF = Duration.ofSeconds(2);

    private static final System.Logger LOG = System.getLogger(RevocationSubscriber.class.getName());

    private final AuthorityHttp http;
    private final URI base;
    private final long stalenessNanos;
    private final long idleNanos;
    private final VerifierMetrics metrics;
    private final CopyOnWriteArrayList<Consumer<String>> listeners = new CopyOnWriteArrayList<>();

    private volatile Set<String> revoked = ConcurrentHashMap.newKeySet();
    private final Map<String, Reinstated> reinstatedAt = new ConcurrentHashMap<>();
    private volatile long lastSeq;
    private volatile boolean synced;
    private volatile long lastLineNanos = System.nanoTime();
    private volatile long connectedNanos = System.nanoTime();
    private volatile InputStream current;
    private volatile boolean running;
    private volatile boolean needSnapshot = true;
    private Thread reader;
    private Thread watchdog;

    private volatile Runnable keysChanged = () -> { };

    RevocationSubscriber(AuthorityHttp http, URI base, Duration staleness, VerifierMetrics metrics) {
        this.http = http;
        this.base = base;
        this.stalenessNanos = staleness.toNanos();
        this.idleNanos = Math.max(staleness.toNanos() / 2, Duration.ofMillis(50).toNanos());
        this.metrics = metrics;
    }

    synchronized void start() {
        if (reader != null) {
            throw new IllegalStateException("The revocation subscription was already started.");
        }
        running = true;
        reader = Thread.ofVirtual().name("m2mfa-revocations").start(this::readLoop);
        watchdog = Thread.ofVirtual().name("m2mfa-revocations-watchdog").start(this::watch);
    }

    boolean fresh() {
        // running: a line applied while close() runs must not make a closed verifier fresh
        return running && synced && System.nanoTime() - lastLineNanos <= stalenessNanos;
    }

    long lastSeq() {
        return lastSeq;
    }

    boolean isRevoked(String subject) {
        return revoked.contains(subject);
    }

    /**
     * Revoked now, or reinstated after {@code issuedAt}: revocation is final for the tokens
     * issued before it, so a re-enrolled machine's old tokens (bound to its old key) stay dead.
     */
    boolean isRevoked(String subject, long issuedAtMillis, Long revocationSeqAtIssue) {
        if (revoked.contains(subject)) {
            return true;
        }
        Reinstated since = reinstatedAt.get(subject);
        if (since == null) {
            return false;
        }
        if (revocationSeqAtIssue != null) {
            return revocationSeqAtIssue < since.seq(); // issued before the reinstate event existed
        }
        return issuedAtMillis / 1000 < since.at() / 1000; // no rsq claim: whole seconds of iat
    }

    /** When a subject was last reinstated: the event's sequence number and time. */
    private record Reinstated(long seq, long at) {}

    private void reinstated(String subject, long seq, long at) {
        if (reinstatedAt.size() >= 100_000) {
            long horizon = System.currentTimeMillis() - 15 * 60_000L;
            reinstatedAt.values().removeIf(r -> r.at() < horizon);
        }
        reinstatedAt.merge(subject, new Reinstated(seq, at), (a, b) -> a.seq() >= b.seq() ? a : b);
    }

    /** Runs {@code action} whenever the authority announces new signing keys. */
    void onKeysChanged(Runnable action) {
        keysChanged = action;
    }

    void addListener(Consumer<String> listener) {
        listeners.add(listener);
    }

    @Override
    public void close() {
        Thread r;
        Thread w;
        synchronized (this) {
            running = false;
            synced = false;
            r = reader;
            w = watchdog;
        }
        closeCurrent();
        for (Thread t : new Thread[] {r, w}) {
            if (t != null) {
                t.interrupt();
            }
        }
        for (Thread t : new Thread[] {r, w}) {
            if (t != null) {
                try {
                    t.join(Duration.ofSeconds(2));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private void readLoop() {
        Duration backoff = INITIAL_BACKOFF;
        while (running) {
            boolean progressed = false;
            try {
                progressed = session();
            } catch (InterruptedException e) {
                if (!running) {
                    return;
                }
            } catch (IOException | ParseException | RuntimeException e) {
                if (running) {
                    LOG.log(Level.DEBUG, "m2mfa verifier: revocation stream interrupted: {0}", e.toString());
                }
            } finally {
                closeCurrent();
            }
            if (!running) {
                return;
            }
            metrics.revocationReconnect();
            if (progressed) {
                backoff = INITIAL_BACKOFF;
            }
            try {
                Thread.sleep(backoff);
            } catch (InterruptedException e) {
                if (!running) {
                    return;
                }
            }
            backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
        }
    }

    /** One connection; returns whether it applied at least one line. */
    private boolean session() throws IOException, InterruptedException, ParseException {
        boolean snapshotFirst = needSnapshot;
        long after = snapshotFirst ? 0 : lastSeq;
        URI uri = base.resolve("/v1/revocations/stream?after=" + after);
        connectedNanos = System.nanoTime();
        HttpResponse<InputStream> resp = http.openStream(uri, "application/x-ndjson");
        current = resp.body();
        connectedNanos = System.nanoTime();
        if (!running) {
            return false;
        }
        if (resp.statusCode() != 200) {
            throw new IOException("The revocation stream answered " + resp.statusCode() + ".");
        }
        BoundedLineReader lines = new BoundedLineReader(resp.body(), MAX_LINE_BYTES);
        boolean progressed = false;
        boolean expectSnapshot = snapshotFirst;
        String line;
        while ((line = lines.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            apply(JSONObjectUtils.parse(line), expectSnapshot);
            expectSnapshot = false;
            progressed = true;
            lastLineNanos = System.nanoTime();
            metrics.revocationLine();
        }
        return progressed;
    }

    private void apply(Map<String, Object> o, boolean expectSnapshot) throws ParseException, IOException {
        String type = JSONObjectUtils.getString(o, "type");
        if (type == null || !o.containsKey("seq")) {
            throw new IOException("A revocation line lacks its type or seq.");
        }
        long seq = JSONObjectUtils.getLong(o, "seq");
        if (expectSnapshot && !"snapshot".equals(type)) {
            throw new IOException("The revocation stream did not start with a snapshot.");
        }
        switch (type) {
            case "snapshot" -> {
                Set<String> fresh = ConcurrentHashMap.newKeySet();
                Map<String, Object>[] entries = JSONObjectUtils.getJSONObjectArray(o, "revoked");
                if (entries == null) {
                    throw new IOException("A snapshot lacks its revoked list.");
                }
                for (Map<String, Object> e : entries) {
                    fresh.add(requiredSubject(e));
                }
                Map<String, Object>[] back = JSONObjectUtils.getJSONObjectArray(o, "reinstated");
                if (back != null) {
                    for (Map<String, Object> e : back) {
                        reinstated(requiredSubject(e), JSONObjectUtils.getLong(e, "seq"), JSONObjectUtils.getLong(e, "at"));
                    }
                }
                Set<String> before = new HashSet<>(revoked);
                revoked = fresh;
                lastSeq = seq;
                needSnapshot = false;
                synced = true;
                for (String sub : fresh) {
                    if (!before.contains(sub)) {
                        notifyRevoked(sub);
                    }
                }
            }
            case "revoke" -> {
                String sub = requiredSubject(o);
                if (seq > lastSeq) {
                    boolean added = revoked.add(sub);
                    lastSeq = seq;
                    if (added) {
                        notifyRevoked(sub);
                    }
                }
            }
            case "reinstate" -> {
                String sub = requiredSubject(o);
                if (seq > lastSeq) {
                    revoked.remove(sub);
                    reinstated(sub, seq, JSONObjectUtils.getLong(o, "at"));
                    lastSeq = seq;
                }
            }
            case "heartbeat" -> {
                if (seq > lastSeq) {
                    throw new IOException("A heartbeat reports seq " + seq + " but we applied only " + lastSeq
                            + ": lines were missed; resuming.");
                }
                if (seq < lastSeq) {
                    needSnapshot = true;
                    throw new IOException("The authority's seq went back from " + lastSeq + " to " + seq
                            + ": taking a new snapshot.");
                }
            }
            case "keys" -> keysChanged.run(); // the authority rotated its signing keys: refetch the JWKS now
            default -> {
                // A line type from a later protocol version: it still shows the stream is alive.
            }
        }
    }

    private static String requiredSubject(Map<String, Object> o) throws ParseException, IOException {
        String sub = JSONObjectUtils.getString(o, "sub");
        if (sub == null || sub.isEmpty()) {
            throw new IOException("A revocation line lacks its sub.");
        }
        return sub;
    }

    private void notifyRevoked(String sub) {
        for (Consumer<String> l : listeners) {
            try {
                l.accept(sub);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "m2mfa verifier: a revocation listener failed: {0}", e.toString());
            }
        }
    }

    private void watch() {
        long tick = Math.max(idleNanos / 4, Duration.ofMillis(10).toNanos());
        while (running) {
            try {
                Thread.sleep(Duration.ofNanos(tick));
            } catch (InterruptedException e) {
                if (!running) {
                    return;
                }
            }
            InputStream in = current;
            long line = lastLineNanos;
            long connected = connectedNanos;
            long lastActivity = line - connected > 0 ? line : connected; // nanoTime may be negative
            if (in != null && System.nanoTime() - lastActivity > idleNanos) {
                LOG.log(Level.DEBUG, "m2mfa verifier: revocation stream silent; reconnecting");
                closeQuietly(in);
            }
        }
    }

    private void closeCurrent() {
        InputStream in = current;
        current = null;
        if (in != null) {
            closeQuietly(in);
        }
    }

    private static void closeQuietly(InputStream in) {
        try {
            in.close();
        } catch (IOException ignored) {
            // nothing to do: we are discarding the connection
        }
    }
}
