package dev.m2mfa.verifier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.fail;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.m2mfa.verifier.TokenRejectedException.Reason;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The checks of {@link TokenVerifier#verify}, against a real HTTPS authority on loopback: one
 * acceptance per binding, then every refusal.
 */
class TokenVerifierTest {

    static final Instant NOW = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    static final String URL = "https://billing.internal/v1/invoices";

    static FakeAuthority authority;

    Mint mint;
    TokenVerifier verifier;

    @BeforeAll
    static void startAuthority() throws Exception {
        authority = new FakeAuthority(Duration.ofMillis(50));
    }

    @AfterAll
    static void stopAuthority() {
        authority.close();
    }

    @BeforeEach
    void startVerifier() {
        mint = new Mint(NOW);
        authority.setJwks(Mint.jwks(mint.authorityKey));
        verifier = verifier(b -> { });
        verifier.start();
        await(Duration.ofSeconds(10), verifier::revocationFresh);
    }

    @AfterEach
    void closeVerifier() {
        verifier.close();
    }

    static TokenVerifier verifierFor(FakeAuthority authority, Instant now) {
        return TokenVerifier.builder().issuer(Mint.ISSUER).audience(Mint.AUDIENCE).authority(authority.base())
                .trustAnchors(authority.root()).clock(Clock.fixed(now, ZoneOffset.UTC)).build();
    }

    static TokenVerifier verifier(Consumer<TokenVerifier.Builder> edit) {
        TokenVerifier.Builder b = TokenVerifier.builder()
                .issuer(Mint.ISSUER)
                .audience(Mint.AUDIENCE)
                .authority(authority.base())
                .trustAnchors(authority.root())
                .clock(Clock.fixed(NOW, ZoneOffset.UTC));
        edit.accept(b);
        return b.build();
    }

    static void await(Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("condition not met within " + timeout);
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    /** A DPoP request for {@code token} with a fresh, valid proof for GET {@link #URL}. */
    TokenRequest.Builder dpop(String token) {
        return TokenRequest.builder().authorization("DPoP " + token).dpop(mint.proof("GET", URL, token))
                .method("GET").uri(URL);
    }

    static TokenRejectedException refusal(TokenVerifier v, TokenRequest request) {
        TokenRejectedException e = catchThrowableOfType(TokenRejectedException.class, () -> v.verify(request));
        assertThat(e).as("the verifier accepted a request it should refuse: %s", request).isNotNull();
        return e;
    }

    Reason reasonFor(TokenRequest request) {
        return refusal(verifier, request).reason();
    }

    /** Signs any header and payload JSON with ES256 under {@code key}, bypassing Nimbus's builders. */
    static String signRaw(Map<String, Object> header, Map<String, Object> payload, ECKey key) throws Exception {
        String input = b64(header) + "." + b64(payload);
        Base64URL sig = new ECDSASigner(key).sign(new JWSHeader(JWSAlgorithm.ES256),
                input.getBytes(StandardCharsets.US_ASCII));
        return input + "." + sig;
    }

    static String b64(Map<String, Object> json) {
        return Base64URL.encode(JSONObjectUtils.toJSONString(json).getBytes(StandardCharsets.UTF_8)).toString();
    }

    static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    // ---- acceptance

    @Test
    void acceptsDpopBoundTokenWithValidProof() throws Exception {
        String token = mint.token();
        VerifiedToken t = verifier.verify(dpop(token).requiredAmr(Set.of("key")).minimumAcr("m2mfa:2fa").build());
        assertThat(t.subject()).isEqualTo(Mint.SUBJECT);
        assertThat(t.machine()).isEqualTo(Mint.MACHINE);
        assertThat(t.audience()).isEqualTo(Mint.AUDIENCE);
        assertThat(t.amr()).containsExactly("key", "network");
        assertThat(t.acr()).isEqualTo("m2mfa:2fa");
        assertThat(t.expiresAt()).isEqualTo(NOW.plusSeconds(300));
        assertThat(t.jti()).isEqualTo(SignedJWT.parse(token).getJWTClaimsSet().getJWTID());
        assertThat(verifier.metrics().acceptedCount()).isEqualTo(1);
    }

    @Test
    void acceptsBearerTokenWithMatchingClientCertificate() throws Exception {
        X509Certificate cert = authority.pki.clientCertificate(TestPki.p256().getPublic(), Mint.MACHINE);
        String token = mint.token(c -> c.claim("cnf", Map.of("jkt", Mint.jkt(mint.machineKey), "x5t#S256", Mint.x5t(cert))));
        VerifiedToken t = verifier.verify(TokenRequest.builder().authorization("Bearer " + token).method("POST")
                .uri(URL).clientCertificate(cert).build());
        assertThat(t.subject()).isEqualTo(Mint.SUBJECT);
    }

    @Test
    void acceptsSchemeCaseQueryStringAndDefaultPortDifferences() throws Exception {
        String token = mint.token();
        VerifiedToken t = verifier.verify(TokenRequest.builder().authorization("dpop " + token)
                .dpop(mint.proof("GET", URL, token)).method("GET")
                .uri("https://BILLING.internal:443/v1/invoices?page=2#frag").build());
        assertThat(t.subject()).isEqualTo(Mint.SUBJECT);
    }

    @Test
    void acceptsApplicationAtJwtType() throws Exception {
        String token = Mint.sign(mint.header(mint.authorityKey).type(new JOSEObjectType("application/at+jwt")).build(),
                mint.claims().build(), mint.authorityKey);
        assertThat(verifier.verify(dpop(token).build()).subject()).isEqualTo(Mint.SUBJECT);
    }

    @Test
    void theClassExampleWorks() throws Exception {
        X509Certificate authorityRoot = authority.root();
        String authorizationHeader = "DPoP " + mint.token();
        String dpopHeader = mint.proof("POST", URL, authorizationHeader.substring(5));
        X509Certificate tlsClientCert = null;
        java.net.URI requestUri = java.net.URI.create(URL);
        // from the class Javadoc, with the authority's test address and a fixed clock
        TokenVerifier verifier = TokenVerifier.builder()
                .issuer("spiffe://m2mfa.local")
                .audience("billing")
                .authority(authority.base())
                .trustAnchors(authorityRoot)
                .clock(Clock.fixed(NOW, ZoneOffset.UTC))
                .build();
        try (verifier) {
            verifier.start();
            await(Duration.ofSeconds(10), verifier::revocationFresh);
            VerifiedToken t = verifier.verify(TokenRequest.builder()
                    .authorization(authorizationHeader).dpop(dpopHeader)
                    .method("POST").uri(requestUri).clientCertificate(tlsClientCert)
                    .requiredAmr(Set.of("key", "network")).minimumAcr("m2mfa:2fa")
                    .build());
            assertThat(t.machine()).isEqualTo(Mint.MACHINE);
        }
    }

    // ---- header and algorithm

    @Test
    void refusesAlgNone() throws Exception {
        String payload = b64(mint.claims().build().toJSONObject());
        String header = b64(map("alg", "none", "typ", "at+jwt", "kid", "k1"));
        for (String token : List.of(header + "." + payload + ".", header + "." + payload + ".AAAA")) {
            assertThat(reasonFor(dpop(token).build())).isEqualTo(Reason.BAD_ALGORITHM);
        }
    }

    @Test
    void refusesHs256SignedWithThePublicKeyAsSecret() throws Exception {
        List<byte[]> secrets = List.of(
                mint.authorityKey.toECPublicKey().getEncoded(), // SPKI DER, as a PEM-reading victim would
                mint.authorityKey.toPublicJWK().toJSONString().getBytes(StandardCharsets.UTF_8));
        for (byte[] secret : secrets) {
            SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256)
                    .type(new JOSEObjectType("at+jwt")).keyID("k1").build(), mint.claims().build());
            jwt.sign(new MACSigner(secret));
            assertThat(reasonFor(dpop(jwt.serialize()).build())).isEqualTo(Reason.BAD_ALGORITHM);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ES384", "ES512", "ES256K", "RS256", "PS256", "EdDSA", "HS512", "es256", "ES256 ", ""})
    void refusesEveryOtherAlgorithm(String alg) throws Exception {
        String token = signRaw(map("alg", alg, "typ", "at+jwt", "kid", "k1"), mint.claims().build().toJSONObject(),
                mint.authorityKey);
        assertThat(reasonFor(dpop(token).build())).isEqualTo(Reason.BAD_ALGORITHM);
    }

    @Test
    void refusesMissingAlg() throws Exception {
        String token = signRaw(map("typ", "at+jwt", "kid", "k1"), mint.claims().build().toJSONObject(), mint.authorityKey);
        assertThat(reasonFor(dpop(token).build())).isEqualTo(Reason.BAD_ALGORITHM);
    }

    @ParameterizedTest
    @ValueSource(strings = {"dpop+jwt", "JWT", "jwt", "at+jwt2", "-"})
    void refusesWrongTokenType(String typ) throws Exception {
        Map<String, Object> header = map("alg", "ES256", "kid", "k1");
        if (!typ.equals("-")) {
            header.put("typ", typ);
        }
        String token = signRaw(header, mint.claims().build().toJSONObject(), mint.authorityKey);
        assertThat(reasonFor(dpop(token).build())).isEqualTo(Reason.MALFORMED);
    }

    @Test
    void refusesCriticalHeaders() throws Exception {
        String token = signRaw(map("alg", "ES256", "typ", "at+jwt", "kid", "k1", "crit", List.of("m2mfa-x"), "m2mfa-x", 1),
                mint.claims().build().toJSONObject(), mint.authorityKey);
        assertThat(reasonFor(dpop(token).build())).isEqualTo(Reason.MALFORMED);
    }

    @Test
    void refusesMalformedAuthorization() throws Exception {
        String token = mint.token();
        String proof = mint.proof("GET", URL, token);
        List<String> bad = new ArrayList<>(List.of("DPoP", "DPoP ", "Basic dXNlcjpwYXNz", "DPoP a.b",
                "DPoP " + token + ".x", "DPoP " + token.replace('.', ' '), "DPoP " + token + "=",
                "DPoP " + "a".repeat(9000) + "." + "b.c"));
        for (String authorization : bad) {
            assertThat(reasonFor(TokenRequest.builder().authorization(authorization).dpop(proof).method("GET").uri(URL)
                    .build())).as(authorization).isEqualTo(Reason.MALFORMED);
        }
        assertThat(reasonFor(TokenRequest.builder().dpop(proof).method("GET").uri(URL).build()))
                .isEqualTo(Reason.MALFORMED);
    }

    // ---- key and signature

    @Test
    void refusesSignatureByAnotherKeyUnderAKnownKid() {
        ECKey impostor = Mint.newKey("k1");
        String token = Mint.sign(mint.header(impostor).build(), mint.claims().build(), impostor);
        assertThat(reasonFor(dpop(token).build())).isEqualTo(Reason.BAD_SIGNATURE);
    }

    @Test
    void refusesTamperedPayload() throws Exception {
        String token = mint.token();
        String[] parts = token.split("\\.");
        String forged = parts[0] + "." + b64(mint.claims().claim("acr", "m2mfa:3fa").build().toJSONObject()) + "."
                + parts[2];
        assertThat(reasonFor(dpop(forged).build())).isEqualTo(Reason.BAD_SIGNATURE);
    }

    // ---- claims

    @Test
    void refusesExpiredTokenBeyondTheSkew() {
        // exp + 30 s skew == now: refused (exp is the first instant the token is invalid)
        String atEdge = mint.token(c -> c.issueTime(Date.from(NOW.minusSeconds(400)))
                .expirationTime(Date.from(NOW.minusSeconds(30))));
        assertThat(reasonFor(dpop(atEdge).build())).isEqualTo(Reason.EXPIRED);
        String withinSkew = mint.token(c -> c.issueTime(Date.from(NOW.minusSeconds(400)))
                .expirationTime(Date.from(NOW.minusSeconds(29))));
        assertThat(catchThrowableOfType(TokenRejectedException.class, () -> verifier.verify(dpop(withinSkew).build())))
                .isNull();
    }

    @Test
    void refusesTokenNotYetValid() throws Exception {
        String nbf = mint.token(c -> c.notBeforeTime(Date.from(NOW.plusSeconds(31))));
        assertThat(reasonFor(dpop(nbf).build())).isEqualTo(Reason.NOT_YET_VALID);
        String iat = mint.token(c -> c.issueTime(Date.from(NOW.plusSeconds(31))).notBeforeTime(null));
        assertThat(reasonFor(dpop(iat).build())).isEqualTo(Reason.NOT_YET_VALID);
        String withinSkew = mint.token(c -> c.notBeforeTime(Date.from(NOW.plusSeconds(30))));
        assertThat(verifier.verify(dpop(withinSkew).build()).subject()).isEqualTo(Mint.SUBJECT);
    }

    @Test
    void refusesWrongAudience() throws Exception {
        assertThat(reasonFor(dpop(mint.token(c -> c.audience("payroll"))).build())).isEqualTo(Reason.WRONG_AUDIENCE);
        assertThat(reasonFor(dpop(mint.token(c -> c.audience((String) null))).build())).isEqualTo(Reason.WRONG_AUDIENCE);
        String several = mint.token(c -> c.audience(List.of("payroll", Mint.AUDIENCE)));
        assertThat(verifier.verify(dpop(several).build()).audience()).isEqualTo(Mint.AUDIENCE);
    }

    @Test
    void refusesWrongIssuer() {
        for (String iss : List.of("spiffe://evil.local", "spiffe://m2mfa.local/", "SPIFFE://m2mfa.local")) {
            assertThat(reasonFor(dpop(mint.token(c -> c.issuer(iss))).build())).as(iss).isEqualTo(Reason.WRONG_ISSUER);
        }
        assertThat(reasonFor(dpop(mint.token(c -> c.issuer(null))).build())).isEqualTo(Reason.WRONG_ISSUER);
    }

    @Test
    void refusesMissingOrIllTypedClaims() {
        List<Consumer<JWTClaimsSet.Builder>> edits = List.of(
                c -> c.subject(null),
                c -> c.claim("client_id", null),
                c -> c.jwtID(null),
                c -> c.claim("amr", "key"),
                c -> c.claim("acr", null),
                c -> c.claim("cnf", null),
                c -> c.claim("cnf", "jkt"),
                c -> c.claim("cnf", Map.of()),
                c -> c.expirationTime(null),
                c -> c.issueTime(null));
        for (int i = 0; i < edits.size(); i++) {
            assertThat(reasonFor(dpop(mint.token(edits.get(i))).build())).as("edit %d", i).isEqualTo(Reason.MALFORMED);
        }
    }

    // ---- proof of possession

    @Test
    void refusesDpopSchemeWithoutProof() {
        assertThat(reasonFor(dpop(mint.token()).dpop(null).build())).isEqualTo(Reason.MISSING_PROOF);
    }

    @Test
    void refusesProofByAnotherKey() throws Exception {
        String token = mint.token();
        ECKey other = Mint.newKey(null);
        // the other key's own jwk, signed by it: a valid proof, for the wrong key
        String byOther = Mint.sign(mint.proofHeader(other).build(), mint.proofClaims("GET", URL, token).build(), other);
        assertThat(reasonFor(dpop(token).dpop(byOther).build())).isEqualTo(Reason.BAD_PROOF);
        // the bound key's jwk, but signed by the other key
        String forged = Mint.sign(mint.proofHeader(mint.machineKey).build(), mint.proofClaims("GET", URL, token).build(),
                other);
        assertThat(reasonFor(dpop(token).dpop(forged).build())).isEqualTo(Reason.BAD_PROOF);
    }

    @Test
    void refusesProofForAnotherMethodOrUri() {
        String token = mint.token();
        assertThat(reasonFor(dpop(token).dpop(mint.proof("POST", URL, token)).build())).isEqualTo(Reason.BAD_PROOF);
        assertThat(reasonFor(dpop(token).dpop(mint.proof("get", URL, token)).build())).isEqualTo(Reason.BAD_PROOF);
        for (String htu : List.of("https://billing.internal/v1/invoices/1", "https://billing.internal/v1/",
                "https://evil.internal/v1/invoices", "http://billing.internal/v1/invoices",
                "https://billing.internal:8443/v1/invoices", "/v1/invoices", "not a uri")) {
            assertThat(reasonFor(dpop(token).dpop(mint.proof("GET", htu, token)).build())).as(htu)
                    .isEqualTo(Reason.BAD_PROOF);
        }
    }

    @Test
    void refusesReplayedProof() throws Exception {
        String token = mint.token();
        TokenRequest request = dpop(token).build();
        verifier.verify(request);
        assertThat(reasonFor(request)).isEqualTo(Reason.PROOF_REPLAYED);
        // the same jti in a newly signed proof is still a replay
        String jti = SignedJWT.parse(request.untrustedDpop()).getJWTClaimsSet().getJWTID();
        assertThat(reasonFor(dpop(token).dpop(mint.proof("GET", URL, token, c -> c.jwtID(jti))).build()))
                .isEqualTo(Reason.PROOF_REPLAYED);
        // a fresh proof for the same token is fine
        assertThat(verifier.verify(dpop(token).build()).subject()).isEqualTo(Mint.SUBJECT);
    }

    @Test
    void refusesProofWithStaleOrMissingAth() {
        String token = mint.token();
        String older = mint.token();
        assertThat(reasonFor(dpop(token).dpop(mint.proof("GET", URL, older)).build())).isEqualTo(Reason.BAD_PROOF);
        assertThat(reasonFor(dpop(token).dpop(mint.proof("GET", URL, token, c -> c.claim("ath", null))).build()))
                .isEqualTo(Reason.BAD_PROOF);
    }

    @Test
    void refusesProofOutsideTheIatWindow() throws Exception {
        String token = mint.token();
        for (long offset : new long[] {-61, 61}) {
            String proof = mint.proof("GET", URL, token, c -> c.issueTime(Date.from(NOW.plusSeconds(offset))));
            assertThat(reasonFor(dpop(token).dpop(proof).build())).as("offset %d", offset).isEqualTo(Reason.BAD_PROOF);
        }
        String proof = mint.proof("GET", URL, token, c -> c.issueTime(Date.from(NOW.minusSeconds(59))));
        assertThat(verifier.verify(dpop(token).dpop(proof).build()).subject()).isEqualTo(Mint.SUBJECT);
        assertThat(reasonFor(dpop(token).dpop(mint.proof("GET", URL, token, c -> c.issueTime(null))).build()))
                .isEqualTo(Reason.BAD_PROOF);
    }

    @Test
    void refusesProofWithBadHeader() throws Exception {
        String token = mint.token();
        Map<String, Object> claims = mint.proofClaims("GET", URL, token).build().toJSONObject();
        Map<String, Object> publicJwk = mint.machineKey.toPublicJWK().toJSONObject();
        Map<String, Object> privateJwk = mint.machineKey.toJSONObject();
        List<Map<String, Object>> headers = List.of(
                map("alg", "ES256", "typ", "dpop+jwt", "jwk", privateJwk),
                map("alg", "ES256", "typ", "jwt", "jwk", publicJwk),
                map("alg", "ES256", "jwk", publicJwk),
                map("alg", "ES256", "typ", "dpop+jwt"),
                map("alg", "ES384", "typ", "dpop+jwt", "jwk", publicJwk),
                map("alg", "ES256", "typ", "dpop+jwt", "jwk", publicJwk, "crit", List.of("x"), "x", 1),
                map("alg", "ES256", "typ", "dpop+jwt", "jwk", offCurve(publicJwk)));
        for (Map<String, Object> h : headers) {
            String proof = signRaw(h, claims, mint.machineKey);
            assertThat(reasonFor(dpop(token).dpop(proof).build())).as(h.toString()).isEqualTo(Reason.BAD_PROOF);
        }
        // control: the same construction with a correct header is accepted
        String good = signRaw(map("alg", "ES256", "typ", "dpop+jwt", "jwk", publicJwk), claims, mint.machineKey);
        assertThat(verifier.verify(dpop(token).dpop(good).build()).subject()).isEqualTo(Mint.SUBJECT);
    }

    /** The same public JWK with its y coordinate changed: a point off the curve. */
    static Map<String, Object> offCurve(Map<String, Object> jwk) {
        Map<String, Object> bad = new LinkedHashMap<>(jwk);
        byte[] y = new Base64URL((String) jwk.get("y")).decode();
        y[y.length - 1] ^= 1;
        bad.put("y", Base64URL.encode(y).toString());
        return bad;
    }

    @Test
    void refusesWrongClientCertificate() throws Exception {
        X509Certificate bound = authority.pki.clientCertificate(TestPki.p256().getPublic(), Mint.MACHINE);
        X509Certificate other = authority.pki.clientCertificate(TestPki.p256().getPublic(), Mint.MACHINE);
        String token = mint.token(c -> c.claim("cnf", Map.of("jkt", Mint.jkt(mint.machineKey), "x5t#S256", Mint.x5t(bound))));
        TokenRequest.Builder bearer = TokenRequest.builder().authorization("Bearer " + token).method("GET").uri(URL);
        assertThat(reasonFor(bearer.clientCertificate(other).build())).isEqualTo(Reason.BAD_PROOF);
        assertThat(reasonFor(bearer.clientCertificate(null).build())).isEqualTo(Reason.MISSING_PROOF);
        assertThat(verifier.verify(bearer.clientCertificate(bound).build()).subject()).isEqualTo(Mint.SUBJECT);
    }

    @Test
    void refusesBearerTokenBoundOnlyToADpopKey() {
        String token = mint.token();
        // even with a valid DPoP proof, Bearer means "used without its key"
        TokenRequest bearer = TokenRequest.builder().authorization("Bearer " + token)
                .dpop(mint.proof("GET", URL, token)).method("GET").uri(URL).build();
        assertThat(reasonFor(bearer)).isEqualTo(Reason.MISSING_PROOF);
        X509Certificate anyCert = authority.pki.clientCertificate(TestPki.p256().getPublic(), Mint.MACHINE);
        assertThat(reasonFor(TokenRequest.builder().authorization("Bearer " + token).method("GET").uri(URL)
                .clientCertificate(anyCert).build())).isEqualTo(Reason.MISSING_PROOF);
    }

    @Test
    void refusesDpopSchemeForCertificateOnlyToken() throws Exception {
        X509Certificate bound = authority.pki.clientCertificate(TestPki.p256().getPublic(), Mint.MACHINE);
        String token = mint.token(c -> c.claim("cnf", Map.of("x5t#S256", Mint.x5t(bound))));
        assertThat(reasonFor(dpop(token).build())).isEqualTo(Reason.MISSING_PROOF);
    }

    // ---- requirements (RFC 9470)

    @Test
    void refusesInsufficientFactorsWithStepUpChallenge() {
        TokenRejectedException e = refusal(verifier, dpop(mint.token()).requiredAmr(Set.of("key", "tpm")).build());
        assertThat(e.reason()).isEqualTo(Reason.INSUFFICIENT_FACTORS);
        assertThat(e.httpStatus()).isEqualTo(401);
        assertThat(e.wwwAuthenticate()).hasValue("DPoP error=\"insufficient_user_authentication\", error_description=\""
                + "A stronger authentication is required\", amr_values=\"key tpm\", algs=\"ES256\"");
    }

    @Test
    void refusesInsufficientAcrWithStepUpChallenge() throws Exception {
        TokenRejectedException e = refusal(verifier, dpop(mint.token()).minimumAcr("m2mfa:3fa").build());
        assertThat(e.reason()).isEqualTo(Reason.INSUFFICIENT_ACR);
        assertThat(e.httpStatus()).isEqualTo(401);
        assertThat(e.wwwAuthenticate()).hasValue("DPoP error=\"insufficient_user_authentication\", error_description=\""
                + "A stronger authentication is required\", acr_values=\"m2mfa:3fa\", algs=\"ES256\"");
        TokenRejectedException unknownAcr = refusal(verifier,
                dpop(mint.token(c -> c.claim("acr", "m2mfa:9fa"))).minimumAcr("m2mfa:1fa").build());
        assertThat(unknownAcr.reason()).isEqualTo(Reason.INSUFFICIENT_ACR);
        assertThat(unknownAcr.wwwAuthenticate().orElseThrow()).contains("acr_values=\"m2mfa:1fa m2mfa:2fa m2mfa:3fa\"");
        assertThat(verifier.verify(dpop(mint.token()).minimumAcr("m2mfa:1fa").build()).acr()).isEqualTo("m2mfa:2fa");
    }

    // ---- freshness, messages, metrics, toString

    @Test
    void refusesEverythingWithServiceUnavailableUntilRevocationDataArrives() {
        try (TokenVerifier notStarted = verifier(b -> { })) {
            TokenRejectedException e = refusal(notStarted, dpop(mint.token()).build());
            assertThat(e.reason()).isEqualTo(Reason.REVOCATION_STALE);
            assertThat(e.httpStatus()).isEqualTo(503);
            assertThat(e.wwwAuthenticate()).isEmpty();
            assertThat(notStarted.revocationFresh()).isFalse();
        }
    }

    @Test
    void refusesEverythingAfterClose() throws Exception {
        verifier.verify(dpop(mint.token()).build()); // the key is cached: what follows is about close()
        verifier.close();
        assertThat(verifier.revocationFresh()).isFalse();
        assertThat(reasonFor(dpop(mint.token()).build())).isEqualTo(Reason.REVOCATION_STALE);
    }

    @Test
    void givesOneMessageAndChallengePerCategory() throws Exception {
        String token = mint.token();
        List<TokenRejectedException> refusals = List.of(
                refusal(verifier, TokenRequest.builder().method("GET").uri(URL).build()),
                refusal(verifier, dpop(signRaw(map("alg", "none", "typ", "at+jwt", "kid", "k1"),
                        mint.claims().build().toJSONObject(), mint.authorityKey)).build()),
                refusal(verifier, dpop(mint.token(c -> c.audience("payroll"))).build()),
                refusal(verifier, dpop(mint.token(c -> c.expirationTime(Date.from(NOW.minusSeconds(60))))).build()),
                refusal(verifier, dpop(token).dpop(null).build()),
                refusal(verifier, dpop(token).dpop(mint.proof("PUT", URL, token)).build()));
        Set<Reason> reasons = new HashSet<>();
        for (TokenRejectedException e : refusals) {
            reasons.add(e.reason());
            assertThat(e.getMessage()).isEqualTo("The access token was not accepted");
            assertThat(e.httpStatus()).isEqualTo(401);
            assertThat(e.wwwAuthenticate()).hasValue("DPoP error=\"invalid_token\", algs=\"ES256\"");
            assertThat(e.getStackTrace()).isEmpty();
            assertThat(e.toString()).doesNotContain(e.reason().name());
        }
        assertThat(reasons).hasSize(refusals.size()); // the refusals really were for different reasons
    }

    @Test
    void countsOutcomesAndExportsThemForPrometheus() {
        String token = mint.token();
        TokenRequest ok = dpop(token).build();
        assertThat(catchThrowableOfType(TokenRejectedException.class, () -> verifier.verify(ok))).isNull();
        refusal(verifier, ok);
        refusal(verifier, dpop(mint.token(c -> c.issuer("spiffe://evil"))).build());
        VerifierMetrics m = verifier.metrics();
        assertThat(m.acceptedCount()).isEqualTo(1);
        assertThat(m.rejectedCount(Reason.PROOF_REPLAYED)).isEqualTo(1);
        assertThat(m.rejectedCount(Reason.WRONG_ISSUER)).isEqualTo(1);
        assertThat(m.rejectedCount(Reason.EXPIRED)).isZero();
        assertThat(m.jwksFetchCount()).isGreaterThanOrEqualTo(1);
        assertThat(m.revocationLineCount()).isGreaterThanOrEqualTo(1);
        String text = m.toPrometheusText();
        assertThat(text).contains("# TYPE m2mfa_verifier_accepted_total counter\nm2mfa_verifier_accepted_total 1\n");
        assertThat(text).contains("m2mfa_verifier_rejected_total{reason=\"proof_replayed\"} 1\n");
        assertThat(text).contains("m2mfa_verifier_rejected_total{reason=\"wrong_issuer\"} 1\n");
        assertThat(text).contains("m2mfa_verifier_rejected_total{reason=\"expired\"} 0\n");
        assertThat(text).contains("m2mfa_verifier_revocation_fresh 1\n");
        assertThat(text).containsPattern("m2mfa_verifier_jwks_fetches_total [1-9]");
    }

    @Test
    void printsNoTokenOrProof() throws Exception {
        String token = mint.token();
        TokenRequest request = dpop(token).build();
        VerifiedToken t = verifier.verify(request);
        String signature = token.substring(token.lastIndexOf('.') + 1);
        String proofSignature = request.untrustedDpop().substring(request.untrustedDpop().lastIndexOf('.') + 1);
        assertThat(t.toString()).doesNotContain(token).doesNotContain(signature);
        assertThat(request.toString()).doesNotContain(token).doesNotContain(signature).doesNotContain(proofSignature)
                .contains("(redacted)");
    }

    @Test
    void keepsTokenTimesOnTheInjectedClock() throws Exception {
        // the same token is expired for a verifier whose clock is 10 minutes later
        Instant later = NOW.plus(Duration.ofMinutes(10));
        try (TokenVerifier v = verifier(b -> b.clock(Clock.fixed(later, ZoneOffset.UTC)))) {
            v.start();
            await(Duration.ofSeconds(10), v::revocationFresh);
            String token = mint.token();
            assertThat(refusal(v, dpop(token).build()).reason()).isEqualTo(Reason.EXPIRED);
        }
    }
}
