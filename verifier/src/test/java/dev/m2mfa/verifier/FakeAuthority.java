package dev.m2mfa.verifier;

import com.nimbusds.jose.util.JSONObjectUtils;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

/**
 * A real HTTPS server on 127.0.0.1 standing in for the authority: it serves a JWKS the test
 * sets and an NDJSON revocation stream the test drives (revoke, reinstate, heartbeats on or
 * off, drop connections), as PROTOCOL.md describes them.
 */
final class FakeAuthority implements AutoCloseable {

    final TestPki pki = new TestPki("m2mfa test root");
    private final HttpsServer server;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final Duration heartbeatInterval;

    private volatile String jwksJson = "{\"keys\":[]}";
    final AtomicInteger jwksRequests = new AtomicInteger();
    /** The {@code after} parameter of every stream request, in order. */
    final List<Long> streamAfters = new CopyOnWriteArrayList<>();
    /**
     * When the newest stream connection last started writing a line ({@link System#nanoTime},
     * read before the write, so no client can have received that line earlier). Older
     * connections, e.g. of verifiers already closed, do not count.
     */
    volatile long lastLineWrittenNanos;
    private final AtomicInteger connections = new AtomicInteger();
    private volatile int newestConnection;
    /** How many injected lines have been written and flushed, over all connections. */
    final AtomicInteger injectedWritten = new AtomicInteger();

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final List<Map<String, Object>> events = new ArrayList<>(); // guarded by lock; events.get(i).seq == i + 1
    private final List<String> injected = new ArrayList<>(); // guarded by lock; never removed
    private final Set<HttpExchange> openStreams = ConcurrentHashMap.newKeySet();
    private volatile boolean heartbeats = true;
    private volatile boolean stopped;

    FakeAuthority(Duration heartbeatInterval) throws Exception {
        this.heartbeatInterval = heartbeatInterval;
        KeyPair serverKeys = TestPki.p256();
        X509Certificate serverCert = pki.serverCertificate(serverKeys.getPublic());
        char[] pw = "test".toCharArray();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("server", serverKeys.getPrivate(), pw, new Certificate[] {serverCert, pki.ca});
        KeyManagerFactory kmf = KeyManagerFactory.getInstance("SunX509");
        kmf.init(ks, pw);
        SSLContext ctx = SSLContext.getInstance("TLSv1.3");
        ctx.init(kmf.getKeyManagers(), null, null);
        server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(ctx) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = ctx.getDefaultSSLParameters();
                p.setProtocols(new String[] {"TLSv1.3"});
                params.setSSLParameters(p);
            }
        });
        server.setExecutor(executor);
        server.createContext("/.well-known/jwks.json", this::jwks);
        server.createContext("/v1/revocations/stream", this::stream);
        server.start();
    }

    URI base() {
        return URI.create("https://127.0.0.1:" + server.getAddress().getPort());
    }

    X509Certificate root() {
        return pki.ca;
    }

    void setJwks(String json) {
        this.jwksJson = json;
    }

    /** Appends a revoke event and returns its seq. */
    long revoke(String sub) {
        return append("revoke", sub);
    }

    long reinstate(String sub) {
        return append("reinstate", sub);
    }

    long latestSeq() {
        lock.lock();
        try {
            return events.size();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Sends {@code json} as one line on every open stream, outside the event log: for lines an
     * honest authority would not send (stale seq, gaps).
     */
    void inject(String json) {
        lock.lock();
        try {
            injected.add(json);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    void heartbeats(boolean on) {
        this.heartbeats = on;
    }

    /** Cuts every open stream connection (the verifier must reconnect and resume). */
    void dropStreams() {
        for (HttpExchange ex : openStreams) {
            ex.close();
        }
    }

    private long append(String type, String sub) {
        lock.lock();
        try {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("type", type);
            e.put("seq", (long) events.size() + 1);
            e.put("sub", sub);
            e.put("at", System.currentTimeMillis());
            events.add(e);
            changed.signalAll();
            return events.size();
        } finally {
            lock.unlock();
        }
    }

    private void jwks(HttpExchange ex) throws IOException {
        jwksRequests.incrementAndGet();
        byte[] body = jwksJson.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(200, body.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(body);
        }
    }

    private void stream(HttpExchange ex) throws IOException {
        String query = ex.getRequestURI().getRawQuery();
        long after = query != null && query.startsWith("after=") ? Long.parseLong(query.substring(6)) : 0;
        int injectedCursor;
        lock.lock();
        try {
            // only lines injected after this connection opened; taken before the connection is
            // counted, so a test that waits for the count and then injects never loses its line
            injectedCursor = injected.size();
        } finally {
            lock.unlock();
        }
        streamAfters.add(after);
        int connection = connections.incrementAndGet();
        newestConnection = connection;
        ex.getResponseHeaders().set("Content-Type", "application/x-ndjson");
        ex.sendResponseHeaders(200, 0);
        openStreams.add(ex);
        try (OutputStream os = ex.getResponseBody()) {
            long cursor = after;
            if (after == 0) {
                lock.lock();
                Map<String, Object> snapshot = new LinkedHashMap<>();
                try {
                    snapshot.put("type", "snapshot");
                    snapshot.put("seq", (long) events.size());
                    snapshot.put("revoked", revokedNow());
                    cursor = events.size();
                } finally {
                    lock.unlock();
                }
                line(os, snapshot, connection);
            }
            long lastBeat = System.nanoTime();
            while (!stopped) {
                List<Map<String, Object>> pending = new ArrayList<>();
                List<String> raw;
                long latest;
                lock.lock();
                try {
                    if (events.size() <= cursor && injected.size() <= injectedCursor) {
                        changed.awaitNanos(heartbeatInterval.toNanos() / 2);
                    }
                    for (long s = cursor; s < events.size(); s++) {
                        pending.add(events.get((int) s));
                    }
                    cursor = events.size();
                    latest = events.size();
                    raw = new ArrayList<>(injected.subList(injectedCursor, injected.size()));
                    injectedCursor = injected.size();
                } finally {
                    lock.unlock();
                }
                for (Map<String, Object> e : pending) {
                    line(os, e, connection);
                }
                for (String r : raw) {
                    stamp(connection);
                    os.write((r + "\n").getBytes(StandardCharsets.UTF_8));
                    os.flush();
                    injectedWritten.incrementAndGet();
                }
                if (heartbeats && System.nanoTime() - lastBeat >= heartbeatInterval.toNanos()) {
                    Map<String, Object> hb = new LinkedHashMap<>();
                    hb.put("type", "heartbeat");
                    hb.put("seq", latest);
                    hb.put("at", System.currentTimeMillis());
                    line(os, hb, connection);
                    lastBeat = System.nanoTime();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            // the client went away or we dropped it
        } finally {
            openStreams.remove(ex);
            ex.close();
        }
    }

    private List<Map<String, Object>> revokedNow() {
        Map<String, Map<String, Object>> bySub = new LinkedHashMap<>();
        for (Map<String, Object> e : events) {
            String sub = (String) e.get("sub");
            if (e.get("type").equals("revoke")) {
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("sub", sub);
                r.put("seq", e.get("seq"));
                r.put("at", e.get("at"));
                bySub.put(sub, r);
            } else {
                bySub.remove(sub);
            }
        }
        return new ArrayList<>(bySub.values());
    }

    private void line(OutputStream os, Map<String, Object> o, int connection) throws IOException {
        stamp(connection);
        os.write((JSONObjectUtils.toJSONString(o) + "\n").getBytes(StandardCharsets.UTF_8));
        os.flush();
    }

    private void stamp(int connection) {
        if (connection == newestConnection) {
            lastLineWrittenNanos = System.nanoTime();
        }
    }

    @Override
    public void close() {
        stopped = true;
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        dropStreams();
        server.stop(0);
        executor.shutdownNow();
    }
}
