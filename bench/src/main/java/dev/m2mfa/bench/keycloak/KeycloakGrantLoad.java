package dev.m2mfa.bench.keycloak;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.spec.PKCS8EncodedKeySpec;
import java.text.ParseException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Load generator for Keycloak's OAuth 2.0 client-credentials grant with {@code private_key_jwt}
 * client authentication (RFC 7523 client assertions), used by {@code bench/keycloak/compare.sh}.
 *
 * <p>Subcommands (output for machines on stdout, narrative on stderr):
 * <ul>
 *   <li>{@code keygen --alg ES256|RS256 --out KEY.jwk} writes a fresh private JWK (mode 0600) and
 *       prints the public JWK Set to stdout, for registering with the client.</li>
 *   <li>{@code check --token-endpoint URL --client-id ID --key KEY.jwk} sends one grant and exits 0
 *       only if it got HTTP 200 with an access_token.</li>
 *   <li>{@code run --token-endpoint URL --client-id ID --key KEY.jwk [--concurrency 16]
 *       [--warmup 60] [--seconds 60] [--max-requests N] [--provider bc|jdk] [--http raw|jdk]
 *       [--virtual] [--server-pid PID]}: C workers, each with its own keep-alive HTTP/1.1
 *       connection, each request a freshly signed client assertion (unique jti); a warm-up phase,
 *       then a measured phase. Prints
 *       {@code {"grants_per_s":..,"p50_ms":..,"p99_ms":..,"errors":N,...}}; with
 *       {@code --server-pid} (Linux) also the server's CPU milliseconds per grant over the
 *       measured phase, next to the load generator's own.</li>
 * </ul>
 *
 * <p>The defaults keep the load generator's own CPU small, since it shares the machine with the
 * server: BouncyCastle signs ES256 about twice as fast as the JDK here (with the key converted to a
 * BC key once), and a plain blocking HTTP/1.1 client over a socket with TCP_NODELAY costs much less
 * per request than the JDK HttpClient ({@code --http jdk} is there to cross-check).
 *
 * <p>Only loopback targets are accepted; runs are bounded in time ({@value #MAX_PHASE_SECONDS} s a
 * phase) and in count ({@code --max-requests}).
 */
public final class KeycloakGrantLoad {

    static final int MAX_CONCURRENCY = 1024;
    static final int MAX_PHASE_SECONDS = 3600;
    static final long DEFAULT_MAX_REQUESTS = 20_000_000L;
    static final String ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    static final int ASSERTION_LIFETIME_S = 30;
    static final int IO_TIMEOUT_MS = 30_000;

    private KeycloakGrantLoad() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            usage();
            System.exit(2);
        }
        int rc;
        try {
            Map<String, String> opts = parse(Arrays.copyOfRange(args, 1, args.length));
            rc = switch (args[0]) {
                case "keygen" -> keygen(opts);
                case "check" -> check(opts);
                case "run" -> run(opts);
                default -> {
                    usage();
                    yield 2;
                }
            };
        } catch (IllegalArgumentException e) {
            System.err.println("KeycloakGrantLoad: " + e.getMessage());
            rc = 2;
        }
        System.exit(rc);
    }

    private static void usage() {
        System.err.println("""
            usage: KeycloakGrantLoad keygen --alg ES256|RS256 --out KEY.jwk
                   KeycloakGrantLoad check --token-endpoint URL --client-id ID --key KEY.jwk [--provider bc|jdk] [--http raw|jdk]
                   KeycloakGrantLoad run   --token-endpoint URL --client-id ID --key KEY.jwk
                                           [--concurrency 16] [--warmup 60] [--seconds 60]
                                           [--max-requests 20000000] [--provider bc|jdk] [--http raw|jdk]
                                           [--virtual] [--server-pid PID]""");
    }

    private static Map<String, String> parse(String[] a) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < a.length; i++) {
            String k = a[i];
            if (!k.startsWith("--")) throw new IllegalArgumentException("unexpected argument: " + k);
            k = k.substring(2);
            if (k.equals("virtual")) {
                m.put(k, "true");
            } else {
                if (i + 1 >= a.length) throw new IllegalArgumentException("missing value for --" + k);
                m.put(k, a[++i]);
            }
        }
        return m;
    }

    private static String req(Map<String, String> o, String k) {
        String v = o.get(k);
        if (v == null || v.isBlank()) throw new IllegalArgumentException("--" + k + " is required");
        return v;
    }

    private static int intOpt(Map<String, String> o, String k, int def, int min, int max) {
        int v = o.containsKey(k) ? Integer.parseInt(o.get(k)) : def;
        if (v < min || v > max) throw new IllegalArgumentException("--" + k + " must be in [" + min + ", " + max + "]");
        return v;
    }

    private static String choice(Map<String, String> o, String k, String def, String... allowed) {
        String v = o.getOrDefault(k, def);
        if (!Arrays.asList(allowed).contains(v))
            throw new IllegalArgumentException("--" + k + " must be one of " + String.join(", ", allowed));
        return v;
    }

    // ---------------------------------------------------------------- keygen

    static int keygen(Map<String, String> o) throws JOSEException, IOException {
        String alg = choice(o, "alg", "ES256", "ES256", "RS256");
        Path out = Path.of(req(o, "out"));
        String kid = "m2mfa-bench-" + UUID.randomUUID();
        JWK key = alg.equals("ES256")
                ? new ECKeyGenerator(Curve.P_256).keyID(kid).keyUse(KeyUse.SIGNATURE).algorithm(JWSAlgorithm.ES256).generate()
                : new RSAKeyGenerator(2048).keyID(kid).keyUse(KeyUse.SIGNATURE).algorithm(JWSAlgorithm.RS256).generate();
        Files.deleteIfExists(out);
        Files.createFile(out, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(out, key.toJSONString());
        System.out.println(new JWKSet(key.toPublicJWK()).toString(true));
        return 0;
    }

    // ---------------------------------------------------------------- client assertions

    /** Loaded only when BouncyCastle is asked for. */
    static final class BouncyHolder {
        static final Provider PROVIDER = new org.bouncycastle.jce.provider.BouncyCastleProvider();
    }

    /** Signs client assertions for one client; one per worker. */
    static final class AssertionSigner {
        final String clientId;
        final String audience;
        final JWSSigner signer;
        final JWSHeader header;

        AssertionSigner(String clientId, String audience, JWK key, String provider) throws JOSEException {
            this.clientId = clientId;
            this.audience = audience;
            boolean bc = provider.equals("bc");
            JWSAlgorithm alg;
            if (key instanceof ECKey ec) {
                if (!Curve.P_256.equals(ec.getCurve())) throw new IllegalArgumentException("EC keys must be P-256 (ES256)");
                ECDSASigner s = bc ? new ECDSASigner(toBc("EC", ec.toPrivateKey()), Curve.P_256) : new ECDSASigner(ec);
                if (bc) s.getJCAContext().setProvider(BouncyHolder.PROVIDER);
                signer = s;
                alg = JWSAlgorithm.ES256;
            } else if (key instanceof RSAKey rsa) {
                RSASSASigner s = bc ? new RSASSASigner(toBc("RSA", rsa.toPrivateKey())) : new RSASSASigner(rsa);
                if (bc) s.getJCAContext().setProvider(BouncyHolder.PROVIDER);
                signer = s;
                alg = JWSAlgorithm.RS256;
            } else {
                throw new IllegalArgumentException("--key must be an EC P-256 or RSA private JWK");
            }
            header = new JWSHeader.Builder(alg).type(JOSEObjectType.JWT).keyID(key.getKeyID()).build();
        }

        /**
         * The key as a BouncyCastle key object: handing BC a JDK key makes it convert the curve on
         * every signature and lose its precomputed tables (about 3x slower).
         */
        private static PrivateKey toBc(String algorithm, PrivateKey k) throws JOSEException {
            try {
                return KeyFactory.getInstance(algorithm, BouncyHolder.PROVIDER).generatePrivate(new PKCS8EncodedKeySpec(k.getEncoded()));
            } catch (GeneralSecurityException e) {
                throw new JOSEException("cannot convert the key for BouncyCastle", e);
            }
        }

        String alg() {
            return header.getAlgorithm().getName();
        }

        /** A fresh client assertion: iss = sub = client_id, aud = token endpoint, unique jti, short exp. */
        String next() throws JOSEException {
            long now = System.currentTimeMillis();
            JWTClaimsSet claims = new JWTClaimsSet.Builder()
                    .issuer(clientId)
                    .subject(clientId)
                    .audience(audience)
                    .jwtID(UUID.randomUUID().toString())
                    .issueTime(new Date(now))
                    .expirationTime(new Date(now + ASSERTION_LIFETIME_S * 1000L))
                    .build();
            SignedJWT jwt = new SignedJWT(header, claims);
            jwt.sign(signer);
            return jwt.serialize();
        }
    }

    static String formBody(String assertion) {
        return "grant_type=client_credentials&client_assertion_type="
                + URLEncoder.encode(ASSERTION_TYPE, StandardCharsets.UTF_8) + "&client_assertion=" + assertion;
    }

    // ---------------------------------------------------------------- transports

    record Response(int status, String body) {}

    /** One keep-alive HTTP/1.1 connection's worth of POSTs to the token endpoint; not thread-safe. */
    interface Transport extends AutoCloseable {
        Response postForm(String body) throws IOException, InterruptedException;

        /** TCP connections opened so far. */
        int connections();

        @Override
        void close();
    }

    /** The JDK HttpClient, forced to HTTP/1.1; one client (so one pooled connection) per worker. */
    static final class JdkTransport implements Transport {
        final URI endpoint;
        final HttpClient http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();

        JdkTransport(URI endpoint) {
            this.endpoint = endpoint;
        }

        @Override
        public Response postForm(String body) throws IOException, InterruptedException {
            HttpRequest rq = HttpRequest.newBuilder(endpoint)
                    .timeout(Duration.ofMillis(IO_TIMEOUT_MS))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("Accept", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body))
                    .build();
            HttpResponse<String> r = http.send(rq, HttpResponse.BodyHandlers.ofString());
            return new Response(r.statusCode(), r.body());
        }

        @Override
        public int connections() {
            return -1; // not observable
        }

        @Override
        public void close() {
            http.close();
        }
    }

    /**
     * A minimal blocking HTTP/1.1 client over one socket (TCP_NODELAY, keep-alive): request with
     * Content-Length, response with Content-Length, chunked or close-delimited body. Plain http only.
     */
    static final class RawTransport implements Transport {
        final InetSocketAddress address;
        final byte[] head;
        Socket socket;
        InputStream in;
        OutputStream out;
        int connections;

        RawTransport(URI endpoint) {
            if (!"http".equals(endpoint.getScheme())) throw new IllegalArgumentException("--http raw speaks plain http only; use --http jdk");
            int port = endpoint.getPort() < 0 ? 80 : endpoint.getPort();
            address = new InetSocketAddress(endpoint.getHost(), port);
            String path = endpoint.getRawPath() == null || endpoint.getRawPath().isEmpty() ? "/" : endpoint.getRawPath();
            if (endpoint.getRawQuery() != null) path += "?" + endpoint.getRawQuery();
            head = ("POST " + path + " HTTP/1.1\r\n"
                    + "Host: " + endpoint.getHost() + (endpoint.getPort() < 0 ? "" : ":" + port) + "\r\n"
                    + "User-Agent: m2mfa-bench-keycloak\r\n"
                    + "Accept: application/json\r\n"
                    + "Content-Type: application/x-www-form-urlencoded\r\n"
                    + "Content-Length: ").getBytes(StandardCharsets.ISO_8859_1);
        }

        @Override
        public Response postForm(String body) throws IOException {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            if (socket == null) connect();
            try {
                ByteArrayOutputStream rq = new ByteArrayOutputStream(head.length + b.length + 16);
                rq.write(head);
                rq.write((b.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                rq.write(b);
                rq.writeTo(out);
                out.flush();
                return read();
            } catch (IOException | RuntimeException e) {
                close(); // the next request opens a new connection
                throw e;
            }
        }

        private void connect() throws IOException {
            Socket s = new Socket();
            try {
                s.setTcpNoDelay(true);
                s.setKeepAlive(true);
                s.setSoTimeout(IO_TIMEOUT_MS);
                s.connect(address, 5_000);
                in = new BufferedInputStream(s.getInputStream(), 16 * 1024);
                out = s.getOutputStream();
            } catch (IOException e) {
                s.close();
                throw e;
            }
            socket = s;
            connections++;
        }

        private Response read() throws IOException {
            String status = line();
            if (!status.startsWith("HTTP/1.")) throw new IOException("not an HTTP/1.x response: " + excerpt(status));
            String[] parts = status.split(" ", 3);
            if (parts.length < 2) throw new IOException("bad status line: " + excerpt(status));
            int code = Integer.parseInt(parts[1]);
            boolean keepAlive = status.startsWith("HTTP/1.1");
            long length = -1;
            boolean chunked = false;
            for (String h; !(h = line()).isEmpty(); ) {
                int c = h.indexOf(':');
                if (c <= 0) continue;
                String name = h.substring(0, c).trim().toLowerCase(Locale.ROOT);
                String value = h.substring(c + 1).trim();
                switch (name) {
                    case "content-length" -> length = Long.parseLong(value);
                    case "transfer-encoding" -> chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
                    case "connection" -> {
                        String v = value.toLowerCase(Locale.ROOT);
                        if (v.contains("close")) keepAlive = false;
                        else if (v.contains("keep-alive")) keepAlive = true;
                    }
                    default -> { }
                }
            }
            ByteArrayOutputStream body = new ByteArrayOutputStream(length > 0 && length < 1 << 20 ? (int) length : 2048);
            if (code / 100 == 1 || code == 204 || code == 304) {
                // no body
            } else if (chunked) {
                for (long n; (n = Long.parseLong(stripExtensions(line()), 16)) > 0; ) {
                    copy(n, body);
                    if (!line().isEmpty()) throw new IOException("bad chunk terminator");
                }
                while (!line().isEmpty()) { } // trailers
            } else if (length >= 0) {
                copy(length, body);
            } else {
                in.transferTo(body);
                keepAlive = false;
            }
            if (!keepAlive) close();
            return new Response(code, body.toString(StandardCharsets.UTF_8));
        }

        private static String stripExtensions(String chunkSize) {
            int semi = chunkSize.indexOf(';');
            return (semi < 0 ? chunkSize : chunkSize.substring(0, semi)).trim();
        }

        private void copy(long n, ByteArrayOutputStream to) throws IOException {
            if (n > 16 << 20) throw new IOException("response body too large: " + n);
            byte[] buf = new byte[(int) Math.min(n, 8192)];
            while (n > 0) {
                int r = in.read(buf, 0, (int) Math.min(n, buf.length));
                if (r < 0) throw new EOFException("connection closed mid-body");
                to.write(buf, 0, r);
                n -= r;
            }
        }

        /** One CRLF-terminated line (ISO-8859-1), without the terminator. */
        private String line() throws IOException {
            StringBuilder sb = new StringBuilder(64);
            for (int c; ; ) {
                c = in.read();
                if (c < 0) throw new EOFException("connection closed by the server");
                if (c == '\n') break;
                if (c != '\r') sb.append((char) c);
                if (sb.length() > 16_384) throw new IOException("header line too long");
            }
            return sb.toString();
        }

        @Override
        public int connections() {
            return connections;
        }

        @Override
        public void close() {
            if (socket != null) {
                try {
                    socket.close();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
            socket = null;
            in = null;
            out = null;
        }
    }

    static Transport transport(String kind, URI endpoint) {
        return kind.equals("jdk") ? new JdkTransport(endpoint) : new RawTransport(endpoint);
    }

    // ---------------------------------------------------------------- shared helpers

    /** True when the response is a 200 whose JSON body carries a non-empty access_token. */
    static boolean granted(Response r) {
        if (r.status() != 200) return false;
        try {
            Object t = JSONObjectUtils.parse(r.body()).get("access_token");
            return t instanceof String s && !s.isEmpty();
        } catch (ParseException e) {
            return false;
        }
    }

    static URI loopbackEndpoint(String s) throws IOException {
        URI u = URI.create(s);
        if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme()))
            throw new IllegalArgumentException("token endpoint must be http(s): " + s);
        if (u.getHost() == null) throw new IllegalArgumentException("token endpoint has no host: " + s);
        for (InetAddress a : InetAddress.getAllByName(u.getHost())) {
            if (!a.isLoopbackAddress())
                throw new IllegalArgumentException("refusing a non-loopback target: " + u.getHost() + " -> " + a);
        }
        return u;
    }

    static JWK loadKey(Map<String, String> o) throws IOException, ParseException {
        JWK k = JWK.parse(Files.readString(Path.of(req(o, "key"))));
        if (!k.isPrivate()) throw new IllegalArgumentException("--key must be a private JWK");
        return k;
    }

    static String excerpt(String body) {
        if (body == null) return "";
        String b = body.replaceAll("\\s+", " ");
        return b.length() > 300 ? b.substring(0, 300) + "..." : b;
    }

    // ---------------------------------------------------------------- check

    static int check(Map<String, String> o) throws Exception {
        URI endpoint = loopbackEndpoint(req(o, "token-endpoint"));
        AssertionSigner signer = new AssertionSigner(req(o, "client-id"), endpoint.toString(), loadKey(o),
                choice(o, "provider", "bc", "bc", "jdk"));
        try (Transport t = transport(choice(o, "http", "raw", "raw", "jdk"), endpoint)) {
            Response r = t.postForm(formBody(signer.next()));
            if (granted(r)) {
                Map<String, Object> j = JSONObjectUtils.parse(r.body());
                System.err.println("check: HTTP 200, token_type=" + j.get("token_type") + ", expires_in=" + j.get("expires_in")
                        + ", access_token " + ((String) j.get("access_token")).length() + " chars (" + signer.alg() + " client assertion)");
                return 0;
            }
            System.err.println("check: FAILED: HTTP " + r.status() + ": " + excerpt(r.body()));
            return 1;
        }
    }

    // ---------------------------------------------------------------- run

    /** Growable array of latencies in nanoseconds, one per worker. */
    static final class Latencies {
        long[] a = new long[4096];
        int n;

        void add(long v) {
            if (n == a.length) a = Arrays.copyOf(a, a.length * 2);
            a[n++] = v;
        }
    }

    static int run(Map<String, String> o) throws Exception {
        URI endpoint = loopbackEndpoint(req(o, "token-endpoint"));
        String clientId = req(o, "client-id");
        JWK key = loadKey(o);
        int concurrency = intOpt(o, "concurrency", 16, 1, MAX_CONCURRENCY);
        int warmupS = intOpt(o, "warmup", 60, 0, MAX_PHASE_SECONDS);
        int seconds = intOpt(o, "seconds", 60, 1, MAX_PHASE_SECONDS);
        long maxRequests = o.containsKey("max-requests") ? Long.parseLong(o.get("max-requests")) : DEFAULT_MAX_REQUESTS;
        if (maxRequests < 1) throw new IllegalArgumentException("--max-requests must be positive");
        String provider = choice(o, "provider", "bc", "bc", "jdk");
        String http = choice(o, "http", "raw", "raw", "jdk");
        boolean virtual = o.containsKey("virtual");
        long serverPid = o.containsKey("server-pid") ? Long.parseLong(o.get("server-pid")) : -1;

        List<AssertionSigner> signers = new ArrayList<>();
        List<Transport> transports = new ArrayList<>();
        for (int i = 0; i < concurrency; i++) {
            signers.add(new AssertionSigner(clientId, endpoint.toString(), key, provider));
            transports.add(transport(http, endpoint));
        }
        String alg = signers.getFirst().alg();

        final long start = System.nanoTime();
        final long warmEnd = start + warmupS * 1_000_000_000L;
        final long end = warmEnd + seconds * 1_000_000_000L;
        final AtomicLong issued = new AtomicLong();
        final LongAdder okAll = new LongAdder();
        final LongAdder okMeasured = new LongAdder();
        final LongAdder errWarmup = new LongAdder();
        final LongAdder errMeasured = new LongAdder();
        final AtomicInteger errorsReported = new AtomicInteger();
        final Latencies[] lat = new Latencies[concurrency];

        System.err.printf(Locale.ROOT, "load: %s, client %s, %s signed with %s, concurrency %d (%s threads, one keep-alive "
                        + "HTTP/1.1 connection each, %s client), warm-up %d s, measure %d s, max %d requests%n",
                endpoint, clientId, alg, provider.equals("bc") ? "BouncyCastle" : "the JDK", concurrency,
                virtual ? "virtual" : "platform", http.equals("raw") ? "socket" : "JDK HttpClient", warmupS, seconds, maxRequests);

        List<Thread> workers = new ArrayList<>();
        for (int i = 0; i < concurrency; i++) {
            final AssertionSigner signer = signers.get(i);
            final Transport transport = transports.get(i);
            final Latencies l = lat[i] = new Latencies();
            Runnable body = () -> {
                while (System.nanoTime() < end && issued.getAndIncrement() < maxRequests) {
                    long t0 = 0;
                    boolean ok = false;
                    String why = null;
                    try {
                        String form = formBody(signer.next());
                        t0 = System.nanoTime();
                        Response r = transport.postForm(form);
                        ok = granted(r);
                        if (!ok) why = "HTTP " + r.status() + ": " + excerpt(r.body());
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    } catch (IOException | JOSEException | RuntimeException e) {
                        why = e.toString();
                    }
                    long t1 = System.nanoTime();
                    boolean measured = t1 >= warmEnd && t1 < end;
                    if (ok) {
                        okAll.increment();
                        if (measured) {
                            okMeasured.increment();
                            l.add(t1 - t0);
                        }
                    } else {
                        (measured ? errMeasured : errWarmup).increment();
                        if (errorsReported.getAndIncrement() < 5) System.err.println("load: error: " + why);
                        try {
                            Thread.sleep(10); // no hot loop against a failing server
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            return;
                        }
                    }
                }
            };
            workers.add(virtual ? Thread.ofVirtual().name("kc-load-" + i).unstarted(body)
                    : Thread.ofPlatform().name("kc-load-" + i).daemon(true).unstarted(body));
        }
        workers.forEach(Thread::start);

        // Progress on stderr every 10 s, CPU snapshots at the phase boundaries, the wall-clock bound.
        final long tick = 10_000_000_000L;
        long nextPrint = start + tick;
        long lastOk = 0;
        long lastT = start;
        Snap atWarm = warmupS == 0 ? Snap.take(serverPid) : null;
        Snap atEnd = null;
        while (workers.stream().anyMatch(Thread::isAlive)) {
            long now = System.nanoTime();
            if (atWarm == null && now >= warmEnd) atWarm = Snap.take(serverPid);
            if (atEnd == null && now >= end) atEnd = Snap.take(serverPid);
            if (now >= nextPrint) {
                long okNow = okAll.sum();
                System.err.printf(Locale.ROOT, "load: t=%4.0f s %-7s %8.1f grants/s (errors so far %d)%n",
                        (now - start) / 1e9, now < warmEnd ? "warm-up" : "measure",
                        (okNow - lastOk) / ((now - lastT) / 1e9), errWarmup.sum() + errMeasured.sum());
                lastOk = okNow;
                lastT = now;
                nextPrint += tick;
            }
            if (now > end + 2L * IO_TIMEOUT_MS * 1_000_000L) { // a request stuck past its timeout: give up on it
                System.err.println("load: workers did not stop in time after the end; interrupting");
                workers.forEach(Thread::interrupt);
                break;
            }
            long next = atWarm == null ? Math.min(nextPrint, warmEnd)
                    : atEnd == null ? Math.min(nextPrint, end) : now + 20_000_000L;
            Thread.sleep(Math.max(1L, (next - now) / 1_000_000L));
        }
        if (atWarm == null) atWarm = Snap.take(serverPid);
        if (atEnd == null) atEnd = Snap.take(serverPid);
        for (Thread t : workers) t.join(5_000);
        int connections = 0;
        for (Transport t : transports) {
            connections = t.connections() < 0 || connections < 0 ? -1 : connections + t.connections();
            t.close();
        }
        if (issued.get() >= maxRequests) System.err.println("load: stopped early at --max-requests " + maxRequests);

        int n = 0;
        for (Latencies l : lat) n += l.n;
        long[] all = new long[n];
        int p = 0;
        for (Latencies l : lat) {
            System.arraycopy(l.a, 0, all, p, l.n);
            p += l.n;
        }
        Arrays.sort(all);
        long ok = okMeasured.sum();
        double rate = ok / (double) seconds;
        String clientCpu = ok == 0 || atEnd.clientCpuNs < 0 || atWarm.clientCpuNs < 0 ? "null"
                : String.format(Locale.ROOT, "%.3f", (atEnd.clientCpuNs - atWarm.clientCpuNs) / 1e6 / ok);
        String serverCpu = ok == 0 || atEnd.serverCpuNs < 0 || atWarm.serverCpuNs < 0 ? "null"
                : String.format(Locale.ROOT, "%.3f", (atEnd.serverCpuNs - atWarm.serverCpuNs) / 1e6 / ok);
        System.out.printf(Locale.ROOT,
                "{\"grants_per_s\":%.1f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"errors\":%d,"
                        + "\"ok\":%d,\"warmup_errors\":%d,\"alg\":\"%s\",\"concurrency\":%d,\"warmup_s\":%d,\"seconds\":%d,"
                        + "\"connections\":%s,\"client_cpu_ms_per_grant\":%s,\"server_cpu_ms_per_grant\":%s,\"loadavg_1m\":%s}%n",
                rate, pct(all, 0.50), pct(all, 0.99), errMeasured.sum(), ok, errWarmup.sum(), alg, concurrency, warmupS,
                seconds, connections < 0 ? "null" : Integer.toString(connections), clientCpu, serverCpu, loadAvg());
        return ok > 0 ? 0 : 1;
    }

    /** CPU time used so far by this process and (Linux /proc) by the server process, in ns; -1 if unknown. */
    record Snap(long clientCpuNs, long serverCpuNs) {
        static Snap take(long serverPid) {
            long client = -1;
            if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
                client = os.getProcessCpuTime();
            }
            return new Snap(client, serverPid > 0 ? procCpuNs(serverPid) : -1);
        }
    }

    /** utime + stime of a process from /proc/PID/stat, at Linux's fixed 100 ticks a second; -1 if unreadable. */
    static long procCpuNs(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10_000_000L;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    static String loadAvg() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (IOException | RuntimeException e) {
            return "null";
        }
    }

    static double pct(long[] sorted, double q) {
        if (sorted.length == 0) return 0;
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1e6;
    }
}
