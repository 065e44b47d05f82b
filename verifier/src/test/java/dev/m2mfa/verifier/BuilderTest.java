package dev.m2mfa.verifier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The builders fail early, with a sentence that says what is wrong. */
class BuilderTest {

    static final X509Certificate ROOT = new TestPki("builder test root").ca;
    static final URI AUTHORITY = URI.create("https://127.0.0.1:8443");

    static TokenVerifier.Builder complete() {
        return TokenVerifier.builder().issuer("spiffe://m2mfa.local").audience("billing").authority(AUTHORITY)
                .trustAnchors(ROOT);
    }

    @Test
    void buildsWithTheRequiredSettings() {
        try (TokenVerifier v = complete().build()) {
            assertThat(v.acrOrder()).containsExactly("m2mfa:1fa", "m2mfa:2fa", "m2mfa:3fa");
            assertThat(v.revocationFresh()).isFalse();
            assertThat(v.lastRevocationSeq()).isZero();
        }
    }

    @Test
    void namesTheMissingSetting() {
        assertThatThrownBy(() -> TokenVerifier.builder().audience("a").authority(AUTHORITY).trustAnchors(ROOT).build())
                .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("The issuer is required");
        assertThatThrownBy(() -> TokenVerifier.builder().issuer("spiffe://x").authority(AUTHORITY).trustAnchors(ROOT)
                .build()).isInstanceOf(IllegalStateException.class).hasMessageStartingWith("The audience is required");
        assertThatThrownBy(() -> TokenVerifier.builder().issuer("spiffe://x").audience("a").trustAnchors(ROOT).build())
                .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("The JWKS URI is required");
        assertThatThrownBy(() -> TokenVerifier.builder().issuer("spiffe://x").audience("a")
                .jwksUri(URI.create("https://a/.well-known/jwks.json")).trustAnchors(ROOT).build())
                .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("The revocation URI is required");
        assertThatThrownBy(() -> TokenVerifier.builder().issuer("spiffe://x").audience("a").authority(AUTHORITY).build())
                .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("The trust anchors are required");
    }

    @Test
    void refusesBadValuesAtOnce() {
        TokenVerifier.Builder b = TokenVerifier.builder();
        assertThatThrownBy(() -> b.issuer(" spiffe://x")).hasMessageContaining("issuer");
        assertThatThrownBy(() -> b.audience("")).hasMessageContaining("audience");
        assertThatThrownBy(() -> b.authority(URI.create("http://127.0.0.1:8443")))
                .hasMessage("The authority URI must be an https URI with a host: http://127.0.0.1:8443.");
        assertThatThrownBy(() -> b.authority(URI.create("https://127.0.0.1:8443/v1")))
                .hasMessageContaining("without path");
        assertThatThrownBy(() -> b.authority(URI.create("https://user@127.0.0.1:8443")))
                .hasMessageContaining("user information");
        assertThatThrownBy(() -> b.jwksUri(URI.create("https://a/jwks?x=1"))).hasMessageContaining("no query");
        assertThatThrownBy(() -> b.trustAnchors()).hasMessageContaining("At least one trust anchor");
        assertThatThrownBy(() -> b.trustAnchors((X509Certificate) null)).hasMessage("A trust anchor is null.");
        assertThatThrownBy(() -> b.clockSkew(Duration.ofMinutes(6)))
                .hasMessage("The clock skew must be between 0s and 5m; got 6m.");
        assertThatThrownBy(() -> b.clockSkew(Duration.ofSeconds(-1))).hasMessageContaining("clock skew");
        assertThatThrownBy(() -> b.revocationStaleness(Duration.ZERO)).hasMessageContaining("revocation staleness");
        assertThatThrownBy(() -> b.dpopIatWindow(Duration.ofHours(1))).hasMessageContaining("DPoP iat window");
        assertThatThrownBy(() -> b.jwksMinRefetchInterval(null)).hasMessageContaining("got null");
        assertThatThrownBy(() -> b.dpopReplayCacheSize(0)).hasMessageContaining("replay cache size");
        assertThatThrownBy(() -> b.acrOrder(List.of())).hasMessageContaining("at least one acr");
        assertThatThrownBy(() -> b.acrOrder(List.of("a", "b", "a"))).hasMessageContaining("twice");
        assertThatThrownBy(() -> b.acrOrder(List.of("m2mfa:2fa\", evil=\"1"))).hasMessageContaining("quote");
        assertThatThrownBy(() -> b.acrOrder(List.of("two words"))).hasMessageContaining("visible ASCII");
        assertThatThrownBy(() -> b.clock(null)).hasMessage("The clock must not be null.");
        assertThatThrownBy(() -> b.audience(null)).isInstanceOf(IllegalArgumentException.class).hasMessageEndingWith(".");
        assertThatThrownBy(() -> b.issuer(null)).isInstanceOf(IllegalArgumentException.class).hasMessageEndingWith(".");
    }

    @Test
    void startsOnceAndNotAfterClose() {
        TokenVerifier v = complete().build();
        v.start();
        assertThatThrownBy(v::start).isInstanceOf(IllegalStateException.class).hasMessage("This verifier is already started.");
        v.close();
        v.close(); // idempotent
        assertThatThrownBy(v::start).isInstanceOf(IllegalStateException.class).hasMessage("This verifier is closed; build a new one.");
    }

    @Test
    void checksWhatTheServiceSuppliesInATokenRequest() {
        assertThatThrownBy(() -> TokenRequest.builder().method("GET").uri("/v1/x").build())
                .hasMessage("The request URI must be an absolute http or https URI with a host.");
        assertThatThrownBy(() -> TokenRequest.builder().method("GET").uri("ftp://host/x").build())
                .hasMessageContaining("http or https");
        assertThatThrownBy(() -> TokenRequest.builder().uri("https://host/x").build()).hasMessage("The HTTP method is required.");
        assertThatThrownBy(() -> TokenRequest.builder().method("GET").uri("https://host/x").requiredAmr(Set.of("a b")).build())
                .hasMessageContaining("A required factor name");
    }

    @Test
    void refusesAFilterRouteWithAnAcrTheVerifierDoesNotKnow() {
        try (TokenVerifier v = complete().build()) {
            assertThatThrownBy(() -> M2mfaFilter.builder(v).route("/admin", Set.of(), "m2mfa:4fa"))
                    .hasMessage("The minimum acr \"m2mfa:4fa\" of route /admin is not in the verifier's acr order"
                            + " [m2mfa:1fa, m2mfa:2fa, m2mfa:3fa].");
            assertThatThrownBy(() -> M2mfaFilter.builder(v).route("admin", Set.of(), null)).hasMessageContaining("start with '/'");
            assertThatThrownBy(() -> M2mfaFilter.builder(v).route("/a", Set.of(), null).route("/a/", Set.of(), null))
                    .hasMessageContaining("configured twice");
            assertThatThrownBy(() -> M2mfaFilter.builder(v).route("/a/../b", Set.of(), null)).hasMessageContaining("normalized");
            assertThatThrownBy(() -> M2mfaFilter.builder(v).publicBaseUri(URI.create("https://svc/base")))
                    .hasMessageContaining("without a path");
        }
    }
}
