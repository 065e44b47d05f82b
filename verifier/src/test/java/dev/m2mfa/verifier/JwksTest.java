package dev.m2mfa.verifier;

import static dev.m2mfa.verifier.TokenVerifierTest.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import dev.m2mfa.verifier.TokenRejectedException.Reason;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Key lookup by kid: the JWKS cache, its rate-limited refetch, its size bound and its filter. */
class JwksTest {

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
    void setUp() {
        mint = new Mint(NOW);
        authority.setJwks(Mint.jwks(mint.authorityKey));
    }

    @AfterEach
    void tearDown() {
        if (verifier != null) {
            verifier.close();
        }
    }

    TokenVerifier build(Consumer<TokenVerifier.Builder> edit) {
        TokenVerifier.Builder b = TokenVerifier.builder().issuer(Mint.ISSUER).audience(Mint.AUDIENCE)
                .authority(authority.base()).trustAnchors(authority.root()).clock(Clock.fixed(NOW, ZoneOffset.UTC));
        edit.accept(b);
        verifier = b.build();
        return verifier;
    }

    Reason outcome(ECKey signer) {
        String token = Mint.sign(mint.header(signer).build(), mint.claims().build(), signer);
        TokenRequest r = TokenRequest.builder().authorization("DPoP " + token).dpop(mint.proof("GET", URL, token))
                .method("GET").uri(URL).build();
        TokenRejectedException e = catchThrowableOfType(TokenRejectedException.class, () -> verifier.verify(r));
        return e == null ? null : e.reason();
    }

    @Test
    void refusesUnknownKidAndRateLimitsTheRefetch() {
        Duration interval = Duration.ofSeconds(3);
        build(b -> b.jwksMinRefetchInterval(interval)).start();
        await(Duration.ofSeconds(10), verifier::revocationFresh);
        await(Duration.ofSeconds(10), () -> outcome(mint.authorityKey) == null); // the prefetch has the key

        ECKey unpublished = Mint.newKey("k-unpublished");
        long fetchesBefore = verifier.metrics().jwksFetchCount();
        int servedBefore = authority.jwksRequests.get();
        long burstStart = System.nanoTime();
        for (int i = 0; i < 20; i++) {
            assertThat(outcome(unpublished)).isEqualTo(Reason.UNKNOWN_KEY);
        }
        long burstNanos = System.nanoTime() - burstStart;
        assertThat(burstNanos).as("the burst must fit in one interval for this test to mean anything")
                .isLessThan(interval.toNanos());
        // 20 unknown kids within one interval: at most one fetch (none if the prefetch was recent)
        assertThat(verifier.metrics().jwksFetchCount() - fetchesBefore).isLessThanOrEqualTo(1);
        assertThat(authority.jwksRequests.get() - servedBefore).isLessThanOrEqualTo(1);
        assertThat(verifier.metrics().rejectedCount(Reason.UNKNOWN_KEY)).isEqualTo(20);

        // a rotation: once published, the new key is picked up by a later refetch
        ECKey rotated = Mint.newKey("k2");
        authority.setJwks(Mint.jwks(mint.authorityKey, rotated));
        long rotationStart = System.nanoTime();
        await(Duration.ofSeconds(10), () -> outcome(rotated) == null);
        long waitedNanos = System.nanoTime() - rotationStart;
        long allowedFetches = 1 + waitedNanos / interval.toNanos() + 1;
        assertThat(authority.jwksRequests.get() - servedBefore).isBetween(1, (int) allowedFetches);
    }

    @Test
    void refusesAJwksLargerThan64KiB() {
        String padded = Mint.jwks(mint.authorityKey).replaceFirst("\\}$", ",\"pad\":\"" + "x".repeat(70_000) + "\"}");
        authority.setJwks(padded);
        build(b -> { });
        assertThat(outcome(mint.authorityKey)).isEqualTo(Reason.UNKNOWN_KEY);
        assertThat(verifier.metrics().jwksFetchFailureCount()).isEqualTo(1);
        verifier.close();
        // control: the same set without the padding is fine (past the stale-revocation check, so
        // the key was found)
        authority.setJwks(Mint.jwks(mint.authorityKey));
        try (TokenVerifier fresh = build(b -> { })) {
            assertThat(outcome(mint.authorityKey)).isEqualTo(Reason.REVOCATION_STALE);
            assertThat(fresh.metrics().jwksFetchFailureCount()).isZero();
        }
    }

    @Test
    void keepsOnlyUsableP256SigningKeys() throws Exception {
        ECKey good = Mint.newKey("good");
        ECKey withPrivatePart = Mint.newKey("private");
        ECKey dupA = Mint.newKey("dup");
        ECKey dupB = Mint.newKey("dup");
        ECKey p384 = new ECKeyGenerator(Curve.P_384).keyID("p384").generate();
        ECKey encryption = new ECKeyGenerator(Curve.P_256).keyID("enc").keyUse(KeyUse.ENCRYPTION).generate();
        ECKey es384 = new ECKeyGenerator(Curve.P_256).keyID("es384").algorithm(JWSAlgorithm.ES384).generate();
        ECKey noKid = new ECKeyGenerator(Curve.P_256).generate();
        String json = "{\"keys\":[" + String.join(",", List.of(good.toPublicJWK().toJSONString(),
                withPrivatePart.toJSONString(), dupA.toPublicJWK().toJSONString(), dupB.toPublicJWK().toJSONString(),
                p384.toPublicJWK().toJSONString(), encryption.toPublicJWK().toJSONString(),
                es384.toPublicJWK().toJSONString(), noKid.toPublicJWK().toJSONString())) + "]}";
        assertThat(JwksCache.parse(json)).containsOnlyKeys("good");
        assertThat(JwksCache.parse(new JWKSet(good).toPublicJWKSet().toString())).containsOnlyKeys("good");
    }
}
