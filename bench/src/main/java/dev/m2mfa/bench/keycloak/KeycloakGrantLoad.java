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

import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
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
 * <p>Subcommands (all output for machines on stdout, narrative on stderr):
 * <ul>
 *   <li>{@code keygen --alg ES256|RS256 --out KEY.jwk} writes a fresh private JWK (mode 0600) and
 *       prints the public JWK Set to stdout, for registering with the client.</li>
 *   <li>{@code check --token-endpoint URL --client-id ID --key KEY.jwk} sends one grant and exits 0
 *       only if it got HTTP 200 with an access_token.</li>
 *   <li>{@code run --token-endpoint URL --client-id ID --key KEY.jwk [--concurrency 16]
 *       [--warmup 60] [--seconds 60] [--max-requests N] [--provider jdk|bc] [--virtual]}:
 *       C workers, each with its own keep-alive HTTP/1.1 connection, each request a freshly signed
 *       client assertion (unique jti); a warm-up phase, then a measured phase. Prints
 *       {@code {"grants_per_s":..,"p50_ms":..,"p99_ms":..,"errors":N,...}}.</li>
 * </ul>
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

    private KeycloakGrantLoad() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            usage();
            System.exit(2);
        }
        Map<String, String> opts = parse(Arrays.copyOfRange(args, 1, args.length));
        int rc = switch (args[0]) {
            case "keygen" -> keygen(opts);
            case "check" -> check(opts);
            case "run" -> run(opts);
            default -> {
                usage();
                yield 2;
            }
        };
        System.exit(rc);
    }

    private static void usage() {
        System.err.println("""
            usage: KeycloakGrantLoad keygen --alg ES256|RS256 --out KEY.jwk
                   KeycloakGrantLoad check --token-endpoint URL --client-id ID --key KEY.jwk [--provider jdk|bc]
                   KeycloakGrantLoad run   --token-endpoint URL --client-id ID --key KEY.jwk
                                           [--concurrency 16] [--warmup 60] [--seconds 60]
                                           [--max-requests 20000000] [--provider jdk|bc] [--virtual]""");
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

    // ---------------------------------------------------------------- keygen

    static int keygen(Map<String, String> o) throws JOSEException, IOException {
        String alg = o.getOrDefault("alg", "ES256");
        Path out = Path.of(req(o, "out"));
        String kid = "m2mfa-bench-" + UUID.randomUUID();
        JWK key = switch (alg) {
            case "ES256" -> new ECKeyGenerator(Curve.P_256).keyID(kid).keyUse(KeyUse.SIGNATURE)
                    .algorithm(JWSAlgorithm.ES256).generate();
            case "RS256" -> new RSAKeyGenerator(2048).keyID(kid).keyUse(KeyUse.SIGNATURE)
                    .algorithm(JWSAlgorithm.RS256).generate();
            default -> throw new IllegalArgumentException("--alg must be ES256 or RS256");
        };
        Files.deleteIfExists(out);
        Files.createFile(out, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(out, key.toJSONString());
        System.out.println(new JWKSet(key.toPublicJWK()).toString(true));
        return 0;
    }

    // ---------------------------------------------------------------- shared request machinery

    /** Everything one worker needs; not shared between threads. */
    static final class Client implements AutoCloseable {
        final URI endpoint;
        final String clientId;
        final JWSSigner signer;
        final JWSHeader header;
        final HttpClient http;
        final String formPrefix = "grant_type=client_credentials&client_assertion_type="
                + URLEncoder.encode(ASSERTION_TYPE, StandardCharsets.UTF_8) + "&client_assertion=";

        Client(URI endpoint, String clientId, JWK key, String provider) throws JOSEException {
            this.endpoint = endpoint;
            this.clientId = clientId;
            JWSAlgorithm alg;
            if (key instanceof ECKey ec) {
                ECDSASigner s = new ECDSASigner(ec);
                if ("bc".equals(provider)) s.getJCAContext().setProvider(BouncyHolder.PROVIDER);
                signer = s;
                alg = JWSAlgorithm.ES256;
            } else if (key instanceof RSAKey rsa) {
                RSASSASigner s = new RSASSASigner(rsa);
                if ("bc".equals(provider)) s.getJCAContext().setProvider(BouncyHolder.PROVIDER);
                signer = s;
                alg = JWSAlgorithm.RS256;
            } else {
                throw new IllegalArgumentException("key must be an EC P-256 or RSA private JWK");
            }
            header = new JWSHeader.Builder(alg).type(JOSEObjectType.JWT).keyID(key.getKeyID()).build();
            http = HttpClient.newBuilder()
                    .version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(5))
                    .followRedirects(HttpClient.Redirect.NEVER)
                    .build();
        }

        /** A fresh client assertion: iss = sub = client_id, aud = token endpoint, unique jti, short exp. */
        String assertion() throws JOSEException {
            long now = System.currentTimeMillis();
            JWTClaimsSet claims = new JWTClaimsSet.Builder()
                    .issuer(clientId)
                    .subject(clientId)
                    .audience(endpoint.toString())
                    .jwtID(UUID.randomUUID().toString())
                    .issueTime(new Date(now))
                    .expirationTime(new Date(now + ASSERTION_LIFETIME_S * 1000L))
                    .build();
            SignedJWT jwt = new SignedJWT(header, claims);
            jwt.sign(signer);
            return jwt.serialize();
        }

        HttpRequest request(String assertion) {
            return HttpRequest.newBuilder(endpoint)
                    .timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("Accept", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(formPrefix + assertion))
                    .build();
        }

        @Override
        public void close() {
            http.close();
        }
    }

    /** Loaded only when --provider bc is asked for. */
    static final class BouncyHolder {
        static final java.security.Provider PROVIDER = new org.bouncycastle.jce.provider.BouncyCastleProvider();
    }

    /** True when the response is a 200 whose JSON body carries a non-empty access_token. */
    static boolean granted(HttpResponse<String> r) {
        if (r.statusCode() != 200) return false;
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
        JWK key = loadKey(o);
        try (Client c = new Client(endpoint, req(o, "client-id"), key, o.getOrDefault("provider", "jdk"))) {
            HttpResponse<String> r = c.http.send(c.request(c.assertion()), HttpResponse.BodyHandlers.ofString());
            if (granted(r)) {
                Map<String, Object> j = JSONObjectUtils.parse(r.body());
                System.err.println("check: HTTP 200, token_type=" + j.get("token_type") + ", expires_in=" + j.get("expires_in")
                        + ", access_token " + ((String) j.get("access_token")).length() + " chars");
                return 0;
            }
            System.err.println("check: FAILED: HTTP " + r.statusCode() + ": " + excerpt(r.body()));
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
        String provider = o.getOrDefault("provider", "jdk");
        boolean virtual = o.containsKey("virtual");

        List<Client> clients = new ArrayList<>();
        for (int i = 0; i < concurrency; i++) clients.add(new Client(endpoint, clientId, key, provider));

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

        System.err.printf(Locale.ROOT, "load: %s, client %s, %s, concurrency %d (%s threads, one HTTP/1.1 connection each), "
                        + "warm-up %d s, measure %d s, max %d requests%n",
                endpoint, clientId, key instanceof ECKey ? "ES256" : "RS256", concurrency,
                virtual ? "virtual" : "platform", warmupS, seconds, maxRequests);

        List<Thread> workers = new ArrayList<>();
        for (int i = 0; i < concurrency; i++) {
            final Client c = clients.get(i);
            final Latencies l = lat[i] = new Latencies();
            Runnable body = () -> {
                while (System.nanoTime() < end && issued.getAndIncrement() < maxRequests) {
                    long t0 = 0;
                    boolean ok = false;
                    String why = null;
                    try {
                        HttpRequest rq = c.request(c.assertion());
                        t0 = System.nanoTime();
                        HttpResponse<String> r = c.http.send(rq, HttpResponse.BodyHandlers.ofString());
                        ok = granted(r);
                        if (!ok) why = "HTTP " + r.statusCode() + ": " + excerpt(r.body());
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
            Thread t = virtual ? Thread.ofVirtual().name("kc-load-" + i).unstarted(body)
                    : Thread.ofPlatform().name("kc-load-" + i).daemon(true).unstarted(body);
            workers.add(t);
        }
        workers.forEach(Thread::start);

        // Progress on stderr every 10 s; also the wall-clock bound.
        long lastOk = 0;
        long lastT = start;
        while (workers.stream().anyMatch(Thread::isAlive)) {
            long now = System.nanoTime();
            if (now > end + 60_000_000_000L) { // a request stuck past its timeout: give up on it
                System.err.println("load: workers did not stop 60 s after the end; interrupting");
                workers.forEach(Thread::interrupt);
                break;
            }
            Thread.sleep(Math.min(10_000L, Math.max(1L, (end - now) / 1_000_000L + 50)));
            long t = System.nanoTime();
            long okNow = okAll.sum();
            if (t - lastT >= 5_000_000_000L || !workers.stream().anyMatch(Thread::isAlive)) {
                System.err.printf(Locale.ROOT, "load: t=%4.0f s %-7s %8.1f grants/s (errors so far %d)%n",
                        (t - start) / 1e9, t < warmEnd ? "warm-up" : t < end ? "measure" : "drain",
                        (okNow - lastOk) / ((t - lastT) / 1e9), errWarmup.sum() + errMeasured.sum());
                lastOk = okNow;
                lastT = t;
            }
        }
        for (Thread t : workers) t.join(5_000);
        clients.forEach(Client::close);

        int n = 0;
        for (Latencies l : lat) n += l.n;
        long[] all = new long[n];
        int p = 0;
        for (Latencies l : lat) {
            System.arraycopy(l.a, 0, all, p, l.n);
            p += l.n;
        }
        Arrays.sort(all);
        double rate = okMeasured.sum() / (double) seconds;
        System.out.printf(Locale.ROOT,
                "{\"grants_per_s\":%.1f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"errors\":%d,"
                        + "\"ok\":%d,\"warmup_errors\":%d,\"alg\":\"%s\",\"concurrency\":%d,\"warmup_s\":%d,\"seconds\":%d}%n",
                rate, pct(all, 0.50), pct(all, 0.99), errMeasured.sum(), okMeasured.sum(), errWarmup.sum(),
                key instanceof ECKey ? "ES256" : "RS256", concurrency, warmupS, seconds);
        return okMeasured.sum() > 0 ? 0 : 1;
    }

    static double pct(long[] sorted, double q) {
        if (sorted.length == 0) return 0;
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1e6;
    }
}
