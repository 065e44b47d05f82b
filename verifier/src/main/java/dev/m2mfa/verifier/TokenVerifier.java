package dev.m2mfa.verifier;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import dev.m2mfa.verifier.TokenRejectedException.Reason;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Verifies m2mfa access tokens (RFC 9068 JWTs bound to a key by DPoP or mTLS) for a relying
 * service, offline: no call to the authority per request.
 *
 * <pre>{@code
 * TokenVerifier verifier = TokenVerifier.builder()
 *         .issuer("spiffe://m2mfa.local")
 *         .audience("billing")
 *         .authority(URI.create("https://authority.internal:8443"))
 *         .trustAnchors(authorityRoot)      // the authority's root, obtained out of band
 *         .build();
 * verifier.start();                       // revocation stream + JWKS prefetch
 * VerifiedToken t = verifier.verify(TokenRequest.builder()
 *         .authorization(authorizationHeader).dpop(dpopHeader)
 *         .method("POST").uri(requestUri).clientCertificate(tlsClientCert)
 *         .requiredAmr(Set.of("key", "network")).minimumAcr("m2mfa:2fa")
 *         .build());                      // or TokenRejectedException
 * }</pre>
 * (The same calls run in {@code TokenVerifierTest.theClassExampleWorks}.)
 *
 * <h2>Design note</h2>
 *
 * <h3>What it trusts</h3>
 * <ul>
 * <li>The trust anchors given to the builder, and them only, to authenticate the authority's
 *     TLS server certificate (TLS 1.3, host name checked). Not the JVM's default CAs.</li>
 * <li>Through that TLS: the authority's JWKS (EC P-256 keys by {@code kid}) and its revocation
 *     stream. Nothing in a token or proof ever chooses a key URL ({@code jku}, {@code x5u} are
 *     ignored), an algorithm, or a key of the authority that is not in the JWKS.</li>
 * <li>The calling service, for the request's method, URI and TLS client certificate
 *     ({@link TokenRequest}). The {@code Authorization} and {@code DPoP} header values are
 *     untrusted until every check below has passed.</li>
 * <li>The {@link Clock} for token times; a monotonic clock for staleness and rate limits.</li>
 * </ul>
 *
 * <h3>Checks, in order (the first failure decides the {@link Reason})</h3>
 * <ol>
 * <li>{@code Authorization}: scheme {@code DPoP} or {@code Bearer}, one compact JWS of at most
 *     8 KiB of base64url. Else {@code MALFORMED}.</li>
 * <li>JOSE header, before any key is touched: {@code alg} must be exactly {@code ES256}
 *     ({@code none}, {@code HS256} (also when "signed" with the public key as HMAC secret:
 *     the verifier never holds an HMAC key), RS/PS/EdDSA, lower case variants: all
 *     {@code BAD_ALGORITHM}); {@code typ} must be {@code at+jwt} (RFC 9068 also allows
 *     {@code application/at+jwt}), no {@code crit} (else {@code MALFORMED}).</li>
 * <li>{@code kid} in the cached JWKS; an unknown {@code kid} may refetch the JWKS, at most once
 *     per {@code jwksMinRefetchInterval}. Else {@code UNKNOWN_KEY}.</li>
 * <li>ES256 signature over the exact bytes received ({@code BAD_SIGNATURE}). The payload is
 *     parsed only after this.</li>
 * <li>Claims: {@code iss} equal ({@code WRONG_ISSUER}); {@code aud} contains the audience
 *     ({@code WRONG_AUDIENCE}); {@code exp} ({@code EXPIRED}), {@code nbf} and {@code iat}
 *     ({@code NOT_YET_VALID}) with the clock skew; {@code sub}, {@code client_id}, {@code jti},
 *     {@code amr}, {@code acr}, {@code cnf} present and well typed ({@code MALFORMED}).</li>
 * <li>Revocation: data older than the staleness bound, or never received, refuses everything
 *     ({@code REVOCATION_STALE}, 503); a revoked {@code sub} is {@code REVOKED}.</li>
 * <li>Proof of possession: a client certificate whose SHA-256 thumbprint equals
 *     {@code cnf.x5t#S256}; else, with scheme {@code DPoP}, a DPoP proof checked fully per
 *     RFC 9449 against {@code cnf.jkt}, the method, the URI and the token ({@code ath}), its
 *     {@code jti} entered in a replay cache last. Otherwise {@code MISSING_PROOF} (e.g. a
 *     {@code Bearer} token bound only to a DPoP key) or {@code BAD_PROOF} /
 *     {@code PROOF_REPLAYED}.</li>
 * <li>The request's requirements: every required factor in {@code amr}
 *     ({@code INSUFFICIENT_FACTORS}), {@code acr} at or above the minimum in
 *     {@code acrOrder} ({@code INSUFFICIENT_ACR}); both answer the RFC 9470 step-up
 *     challenge.</li>
 * </ol>
 *
 * <h3>Fail closed</h3>
 * Anything the verifier cannot establish is a refusal: an unreachable authority means unknown
 * keys (401) and stale revocation data (503), never acceptance. An unknown {@code acr}, an
 * ill-typed claim, a full replay cache are refusals. Refusals show the client one message per
 * {@link TokenRejectedException.Category}; the {@link Reason} is for the operator.
 *
 * <h3>Threading</h3>
 * {@link #verify} is thread-safe, lock-free on the common path, and does no I/O except a
 * rate-limited JWKS refetch for an unknown {@code kid}. Two virtual threads follow the
 * revocation stream (a reader and a watchdog) and one refreshes the JWKS every five minutes;
 * {@link #start()} starts them and {@link #close()} stops them.
 *
 * <h3>Adversary</h3>
 * Made-up {@code kid}s cost the authority at most one JWKS fetch per interval. Malformed input
 * is bounded (8 KiB tokens and proofs, 64 KiB JWKS, 4 MiB stream lines) and refused before
 * any signature work. Only fully valid DPoP proofs enter the bounded replay cache; when it is
 * full of live entries new proofs are refused rather than old ones forgotten.
 *
 * <h3>References</h3>
 * RFC 9068 (JWT access tokens), RFC 9449 (DPoP), RFC 8705 (mTLS-bound tokens), RFC 7638 (JWK
 * thumbprint), RFC 9470 (step-up challenge), RFC 9457 (problem details); docs/PROTOCOL.md.
 */
public final class TokenVerifier implements AutoCloseable {

    /** The default {@code acr} order, weakest first. */
    public static final List<String> DEFAULT_ACR_ORDER = List.of("m2mfa:1fa", "m2mfa:2fa", "m2mfa:3fa");

    static final Duration JWKS_REFRESH_INTERVAL = Duration.ofMinutes(5);

    private static final System.Logger LOG = System.getLogger(TokenVerifier.class.getName());

    private final String issuer;
    private final String audience;
    private final Duration clockSkew;
    private final List<String> acrOrder;
    private final Clock clock;
    private final AuthorityHttp http;
    private final JwksCache jwks;
    private final RevocationSubscriber revocations;
    private final DpopProofChecker dpop;
    private final VerifierMetrics metrics;
    private final Object lifecycle = new Object();
    private boolean started; // guarded by lifecycle
    private boolean closed; // guarded by lifecycle
    private Thread jwksRefresher; // guarded by lifecycle

    private TokenVerifier(Builder b) {
        this.issuer = b.issuer;
        this.audience = b.audience;
        this.clockSkew = b.clockSkew;
        this.acrOrder = b.acrOrder;
        this.clock = b.clock;
        this.http = new AuthorityHttp(b.trustAnchors);
        this.metrics = new VerifierMetrics(this::revocationFresh, this::lastRevocationSeq);
        this.revocations = new RevocationSubscriber(http, b.revocationUri, b.revocationStaleness, metrics);
        this.jwks = new JwksCache(http, b.jwksUri, b.jwksMinRefetchInterval, metrics);
        this.revocations.onKeysChanged(() -> Thread.ofVirtual().name("m2mfa-jwks-push").start(() -> {
            try {
                jwks.refresh();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        this.dpop = new DpopProofChecker(b.dpopIatWindow, new DpopReplayCache(b.dpopReplayCacheSize));
    }

    /** A builder; issuer, audience, the authority's URIs and the trust anchors are required. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Starts following the revocation stream and fetches the JWKS in the background. Until the
     * first revocation snapshot arrives, {@link #verify} refuses with {@code REVOCATION_STALE}.
     *
     * @throws IllegalStateException if already started or closed
     */
    public void start() {
        synchronized (lifecycle) {
            if (closed) {
                throw new IllegalStateException("This verifier is closed; build a new one.");
            }
            if (started) {
                throw new IllegalStateException("This verifier is already started.");
            }
            started = true;
            revocations.start();
            jwksRefresher = Thread.ofVirtual().name("m2mfa-jwks").start(this::refreshJwks);
        }
    }

    /** Stops the background threads; afterwards {@link #verify} refuses every token. */
    @Override
    public void close() {
        Thread refresher;
        synchronized (lifecycle) {
            if (closed) {
                return;
            }
            closed = true;
            refresher = jwksRefresher;
        }
        jwks.close();
        revocations.close();
        if (refresher != null) {
            refresher.interrupt();
        }
        http.close();
    }

    /**
     * Verifies the token of one request, with the checks described above.
     *
     * @return the verified claims
     * @throws TokenRejectedException if any check fails; its message is safe to show the client
     * @throws IllegalArgumentException if the request's minimum acr is not in {@link #acrOrder()}
     *     (a configuration error of the calling service, not of the client)
     */
    public VerifiedToken verify(TokenRequest request) throws TokenRejectedException {
        Objects.requireNonNull(request, "request");
        try {
            VerifiedToken token = check(request);
            metrics.accepted();
            return token;
        } catch (TokenRejectedException e) {
            metrics.rejected(e.reason());
            if (LOG.isLoggable(Level.DEBUG)) {
                LOG.log(Level.DEBUG, "m2mfa verifier: refused {0} {1}: {2}", request.method(),
                        Htu.normalize(request.uri()), e.reason());
            }
            throw e;
        }
    }

    /** Whether revocation data is within the staleness bound (else {@link #verify} refuses). */
    public boolean revocationFresh() {
        return revocations.fresh();
    }

    /** The sequence number of the last revocation event applied (0 before the first). */
    public long lastRevocationSeq() {
        return revocations.lastSeq();
    }

    /**
     * Calls {@code listener} with the subject of every revocation as it is applied (on the
     * stream's thread: keep it short; exceptions are logged and ignored).
     */
    public void onRevocation(Consumer<String> listener) {
        revocations.addListener(Objects.requireNonNull(listener, "listener"));
    }

    /** This verifier's counters. */
    public VerifierMetrics metrics() {
        return metrics;
    }

    /** The configured {@code acr} order, weakest first. */
    public List<String> acrOrder() {
        return acrOrder;
    }

    /** Counts and returns a refusal found outside {@link #verify} (e.g. duplicate headers). */
    TokenRejectedException refuse(Reason reason) {
        metrics.rejected(reason);
        return TokenRejectedException.of(reason);
    }

    private enum Scheme { DPOP, BEARER }

    private VerifiedToken check(TokenRequest request) throws TokenRejectedException {
        // 1. Authorization header
        String authorization = request.untrustedAuthorization();
        if (authorization == null) {
            throw TokenRejectedException.of(Reason.MALFORMED);
        }
        int space = authorization.indexOf(' ');
        if (space <= 0) {
            throw TokenRejectedException.of(Reason.MALFORMED);
        }
        String schemeName = authorization.substring(0, space);
        Scheme scheme;
        if ("DPoP".equalsIgnoreCase(schemeName)) {
            scheme = Scheme.DPOP;
        } else if ("Bearer".equalsIgnoreCase(schemeName)) {
            scheme = Scheme.BEARER;
        } else {
            throw TokenRejectedException.of(Reason.MALFORMED);
        }
        String token = authorization.substring(space + 1).strip();

        // 2. JOSE header
        CompactJws jws;
        JWSHeader header;
        try {
            jws = CompactJws.parse(token);
        } catch (ParseException e) {
            throw TokenRejectedException.of(Reason.MALFORMED);
        }
        if (!"ES256".equals(jws.alg())) {
            throw TokenRejectedException.of(Reason.BAD_ALGORITHM);
        }
        try {
            header = jws.header();
        } catch (ParseException e) {
            throw TokenRejectedException.of(Reason.MALFORMED);
        }
        if (!JWSAlgorithm.ES256.equals(header.getAlgorithm())) {
            throw TokenRejectedException.of(Reason.BAD_ALGORITHM);
        }
        String typ = header.getType() == null ? null : header.getType().toString().toLowerCase(Locale.ROOT);
        if (!"at+jwt".equals(typ) && !"application/at+jwt".equals(typ)) {
            throw TokenRejectedException.of(Reason.MALFORMED);
        }
        if (header.getCriticalParams() != null && !header.getCriticalParams().isEmpty()) {
            throw TokenRejectedException.of(Reason.MALFORMED);
        }

        // 3. key
        String kid = header.getKeyID();
        ECDSAVerifier key;
        try {
            key = kid == null ? null : jwks.find(kid);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            key = null;
        }
        if (key == null) {
            throw TokenRejectedException.of(Reason.UNKNOWN_KEY);
        }

        // 4. signature
        try {
            if (!key.verify(header, jws.signingInput(), jws.signature())) {
                throw TokenRejectedException.of(Reason.BAD_SIGNATURE);
            }
        } catch (JOSEException e) {
            throw TokenRejectedException.of(Reason.BAD_SIGNATURE);
        }

        // 5. claims
        JWTClaimsSet claims;
        try {
            claims = JWTClaimsSet.parse(jws.payloadJson());
        } catch (ParseException e) {
            throw TokenRejectedException.of(Reason.MALFORMED);
        }
        if (!issuer.equals(claims.getIssuer())) {
            throw TokenRejectedException.of(Reason.WRONG_ISSUER);
        }
        if (claims.getAudience() == null || !claims.getAudience().contains(audience)) {
            throw TokenRejectedException.of(Reason.WRONG_AUDIENCE);
        }
        Instant now = clock.instant();
        Date exp = claims.getExpirationTime();
        Date iat = claims.getIssueTime();
        Date nbf = claims.getNotBeforeTime();
        if (exp == null || iat == null) {
            throw TokenRejectedException.of(Reason.MALFORMED);
        }
        if (!now.isBefore(exp.toInstant().plus(clockSkew))) {
            throw TokenRejectedException.of(Reason.EXPIRED);
        }
        Instant latestStart = now.plus(clockSkew);
        if ((nbf != null && nbf.toInstant().isAfter(latestStart)) || iat.toInstant().isAfter(latestStart)) {
            throw TokenRejectedException.of(Reason.NOT_YET_VALID);
        }
        String subject;
        String machine;
        String jti;
        String acr;
        List<String> amr;
        Map<String, Object> cnf;
        try {
            subject = claims.getStringClaim("sub");
            machine = claims.getStringClaim("client_id");
            jti = claims.getStringClaim("jti");
            acr = claims.getStringClaim("acr");
            amr = claims.getStringListClaim("amr");
            cnf = claims.getJSONObjectClaim("cnf");
        } catch (ParseException e) {
            throw TokenRejectedException.of(Reason.MALFORMED);
        }
        if (subject == null || subject.isEmpty() || machine == null || jti == null || acr == null || amr == null
                || amr.contains(null) || cnf == null) {
            throw TokenRejectedException.of(Reason.MALFORMED);
        }
        String jkt;
        String x5t;
        try {
            jkt = JSONObjectUtils.getString(cnf, "jkt");
            x5t = JSONObjectUtils.getString(cnf, "x5t#S256");
        } catch (ParseException e) {
            throw TokenRejectedException.of(Reason.MALFORMED);
        }
        if (jkt == null && x5t == null) {
            throw TokenRejectedException.of(Reason.MALFORMED);
        }

        // 6. revocation
        if (!revocations.fresh()) {
            throw TokenRejectedException.of(Reason.REVOCATION_STALE);
        }
        Long rsq;
        try {
            rsq = claims.getLongClaim("rsq");
        } catch (ParseException e) {
            throw TokenRejectedException.of(Reason.MALFORMED);
        }
        if (revocations.isRevoked(subject, iat.getTime(), rsq)) {
            throw TokenRejectedException.of(Reason.REVOKED);
        }

        // 7. proof of possession
        X509Certificate cert = request.clientCertificate();
        boolean certMatches = x5t != null && cert != null
                && DpopProofChecker.constantTimeEquals(x5t, certificateThumbprint(cert));
        if (!certMatches) {
            if (scheme == Scheme.DPOP && jkt != null && request.untrustedDpop() != null) {
                dpop.check(request.untrustedDpop(), request.method(), Htu.normalize(request.uri()), token, jkt, now);
            } else if (scheme == Scheme.BEARER && x5t != null && cert != null) {
                throw TokenRejectedException.of(Reason.BAD_PROOF); // a certificate, but not the bound one
            } else {
                throw TokenRejectedException.of(Reason.MISSING_PROOF);
            }
        }

        // 8. requirements of the request
        if (!new HashSet<>(amr).containsAll(request.requiredAmr())) {
            throw TokenRejectedException.insufficient(Reason.INSUFFICIENT_FACTORS, acceptableAcrs(request.minimumAcr()),
                    request.requiredAmr());
        }
        if (request.minimumAcr() != null) {
            int min = acrOrder.indexOf(request.minimumAcr());
            if (min < 0) {
                throw new IllegalArgumentException("The minimum acr \"" + request.minimumAcr()
                        + "\" is not in this verifier's acr order " + acrOrder + ".");
            }
            if (acrOrder.indexOf(acr) < min) {
                throw TokenRejectedException.insufficient(Reason.INSUFFICIENT_ACR, acceptableAcrs(request.minimumAcr()),
                        request.requiredAmr());
            }
        }
        return new VerifiedToken(subject, machine, audience, amr, acr, exp.toInstant(), jti);
    }

    private List<String> acceptableAcrs(String minimumAcr) {
        if (minimumAcr == null) {
            return List.of();
        }
        int min = acrOrder.indexOf(minimumAcr);
        return min < 0 ? List.of() : acrOrder.subList(min, acrOrder.size());
    }

    /** RFC 8705 {@code x5t#S256}: base64url(SHA-256(DER)). */
    static String certificateThumbprint(X509Certificate cert) {
        try {
            return Base64URL.encode(DpopProofChecker.sha256(cert.getEncoded())).toString();
        } catch (CertificateEncodingException e) {
            return "";
        }
    }

    private void refreshJwks() {
        while (true) {
            try {
                jwks.refresh();
                Thread.sleep(JWKS_REFRESH_INTERVAL);
            } catch (InterruptedException e) {
                synchronized (lifecycle) {
                    if (closed) {
                        return;
                    }
                }
            }
        }
    }

    /**
     * Configures a {@link TokenVerifier}. Each setter checks its argument at once and fails with
     * a sentence saying what is wrong; {@link #build()} checks that the required settings are
     * there.
     */
    public static final class Builder {
        private String issuer;
        private String audience;
        private URI jwksUri;
        private URI revocationUri;
        private List<X509Certificate> trustAnchors;
        private Duration clockSkew = Duration.ofSeconds(30);
        private Duration revocationStaleness = Duration.ofSeconds(30);
        private Duration dpopIatWindow = Duration.ofSeconds(60);
        private Duration jwksMinRefetchInterval = Duration.ofSeconds(5);
        private int dpopReplayCacheSize = 500_000;
        private List<String> acrOrder = DEFAULT_ACR_ORDER;
        private Clock clock = Clock.systemUTC();

        private Builder() {
        }

        /** The required {@code iss}, e.g. {@code spiffe://m2mfa.local}. Required. */
        public Builder issuer(String issuer) {
            if (issuer == null || issuer.isBlank() || !issuer.strip().equals(issuer)) {
                throw new IllegalArgumentException(
                        "The issuer must be a non-empty string without surrounding spaces, e.g. spiffe://m2mfa.local.");
            }
            this.issuer = issuer;
            return this;
        }

        /** The audience this service answers to; a token's {@code aud} must contain it. Required. */
        public Builder audience(String audience) {
            if (audience == null || audience.isBlank() || !audience.strip().equals(audience)) {
                throw new IllegalArgumentException("The audience must be a non-empty string without surrounding spaces.");
            }
            this.audience = audience;
            return this;
        }

        /**
         * The authority's base URI ({@code https://host:port}); sets the JWKS URI to
         * {@code {base}/.well-known/jwks.json} and the revocation base to {@code base}.
         */
        public Builder authority(URI base) {
            checkBase("The authority URI", base);
            this.jwksUri = base.resolve("/.well-known/jwks.json");
            this.revocationUri = base;
            return this;
        }

        /** The full JWKS URI, if it is not at the authority's base. */
        public Builder jwksUri(URI jwksUri) {
            checkHttps("The JWKS URI", jwksUri);
            if (jwksUri.getRawQuery() != null || jwksUri.getRawFragment() != null) {
                throw new IllegalArgumentException("The JWKS URI must have no query or fragment: " + jwksUri + ".");
            }
            this.jwksUri = jwksUri;
            return this;
        }

        /** The base URI ({@code https://host:port}) of the revocation stream, if not the authority's. */
        public Builder revocationUri(URI base) {
            checkBase("The revocation URI", base);
            this.revocationUri = base;
            return this;
        }

        /** The root certificate(s) that the authority's TLS server certificate must chain to. Required. */
        public Builder trustAnchors(X509Certificate... roots) {
            if (roots == null || roots.length == 0) {
                throw new IllegalArgumentException("At least one trust anchor (the authority's root certificate) is required.");
            }
            List<X509Certificate> list = new ArrayList<>();
            for (X509Certificate r : roots) {
                if (r == null) {
                    throw new IllegalArgumentException("A trust anchor is null.");
                }
                list.add(r);
            }
            this.trustAnchors = List.copyOf(list);
            return this;
        }

        /** Tolerance for {@code exp}, {@code nbf} and {@code iat}; 0 to 5 minutes, default 30 s. */
        public Builder clockSkew(Duration skew) {
            this.clockSkew = between("The clock skew", skew, Duration.ZERO, Duration.ofMinutes(5));
            return this;
        }

        /** How old revocation data may get before every token is refused; default 30 s. */
        public Builder revocationStaleness(Duration staleness) {
            this.revocationStaleness = between("The revocation staleness", staleness, Duration.ofMillis(1),
                    Duration.ofMinutes(10));
            return this;
        }

        /** How far a DPoP proof's {@code iat} may be from now, either way; default 60 s. */
        public Builder dpopIatWindow(Duration window) {
            this.dpopIatWindow = between("The DPoP iat window", window, Duration.ofSeconds(1), Duration.ofMinutes(10));
            return this;
        }

        /** The least time between two JWKS fetches caused by unknown {@code kid}s; default 5 s. */
        public Builder jwksMinRefetchInterval(Duration interval) {
            this.jwksMinRefetchInterval = between("The JWKS refetch interval", interval, Duration.ofMillis(1),
                    Duration.ofHours(1));
            return this;
        }

        /** How many DPoP {@code jti}s to remember at most; default 500,000 (about 50 MB). */
        public Builder dpopReplayCacheSize(int entries) {
            if (entries < 1 || entries > 50_000_000) {
                throw new IllegalArgumentException("The DPoP replay cache size must be between 1 and 50,000,000; got "
                        + entries + ".");
            }
            this.dpopReplayCacheSize = entries;
            return this;
        }

        /**
         * The {@code acr} names from weakest to strongest, for the minimum-acr comparison; a
         * token whose {@code acr} is not in the list meets no minimum. Default
         * {@link #DEFAULT_ACR_ORDER}.
         */
        public Builder acrOrder(List<String> weakestFirst) {
            if (weakestFirst == null || weakestFirst.isEmpty()) {
                throw new IllegalArgumentException("The acr order must name at least one acr.");
            }
            for (String a : weakestFirst) {
                Names.checkName("An acr name", a);
            }
            if (new HashSet<>(weakestFirst).size() != weakestFirst.size()) {
                throw new IllegalArgumentException("The acr order names an acr twice: " + weakestFirst + ".");
            }
            this.acrOrder = List.copyOf(weakestFirst);
            return this;
        }

        /** The clock for token times (tests). Default {@link Clock#systemUTC()}. */
        public Builder clock(Clock clock) {
            if (clock == null) {
                throw new IllegalArgumentException("The clock must not be null.");
            }
            this.clock = clock;
            return this;
        }

        /**
         * Builds the verifier (no network I/O yet; see {@link TokenVerifier#start()}).
         *
         * @throws IllegalStateException if a required setting is missing
         */
        public TokenVerifier build() {
            if (issuer == null) {
                throw new IllegalStateException("The issuer is required: call issuer(\"spiffe://<trust domain>\").");
            }
            if (audience == null) {
                throw new IllegalStateException("The audience is required: call audience(...) with this service's name.");
            }
            if (jwksUri == null) {
                throw new IllegalStateException("The JWKS URI is required: call authority(...) or jwksUri(...).");
            }
            if (revocationUri == null) {
                throw new IllegalStateException("The revocation URI is required: call authority(...) or revocationUri(...).");
            }
            if (trustAnchors == null) {
                throw new IllegalStateException(
                        "The trust anchors are required: call trustAnchors(...) with the authority's root certificate.");
            }
            return new TokenVerifier(this);
        }

        private static void checkHttps(String what, URI uri) {
            if (uri == null) {
                throw new IllegalArgumentException(what + " must not be null.");
            }
            if (!"https".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null) {
                throw new IllegalArgumentException(what + " must be an https URI with a host: " + uri + ".");
            }
            if (uri.getRawUserInfo() != null) {
                throw new IllegalArgumentException(what + " must not contain user information.");
            }
        }

        private static void checkBase(String what, URI base) {
            checkHttps(what, base);
            String path = base.getRawPath();
            if ((path != null && !path.isEmpty() && !path.equals("/")) || base.getRawQuery() != null
                    || base.getRawFragment() != null) {
                throw new IllegalArgumentException(what + " must be a base like https://host:port, without path,"
                        + " query or fragment: " + base + ".");
            }
        }

        private static Duration between(String what, Duration d, Duration min, Duration max) {
            if (d == null || d.compareTo(min) < 0 || d.compareTo(max) > 0) {
                throw new IllegalArgumentException(what + " must be between " + human(min) + " and " + human(max)
                        + "; got " + (d == null ? "null" : human(d)) + ".");
            }
            return d;
        }

        private static String human(Duration d) {
            return d.toString().substring(2).toLowerCase(Locale.ROOT);
        }
    }
}
