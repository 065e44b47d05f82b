package dev.m2mfa.verifier;

import static dev.m2mfa.verifier.TokenVerifierTest.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.util.JSONObjectUtils;
import dev.m2mfa.verifier.TokenRejectedException.Reason;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link M2mfaFilter} in a real Jetty 12 (ee10) server on loopback, called over real HTTP:
 * status, challenge, problem body, and that nothing internal reaches the client.
 */
class M2mfaFilterTest {

    static final Instant NOW = Instant.now().truncatedTo(ChronoUnit.SECONDS);

    static FakeAuthority authority;
    static Mint mint;
    static TokenVerifier verifier;
    static TokenVerifier staleVerifier;
    static Server jetty;
    static Server staleJetty;
    static String base;
    static String staleBase;
    static HttpClient http;

    /** Echoes the verified subject and acr, so the test sees what the filter passed on. */
    static final class Echo extends HttpServlet {
        private static final long serialVersionUID = 1L;

        @Override
        protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
            VerifiedToken t = (VerifiedToken) req.getAttribute(M2mfaFilter.TOKEN_ATTRIBUTE);
            resp.setContentType("text/plain");
            resp.getWriter().print(t.subject() + " " + t.acr());
        }
    }

    @BeforeAll
    static void start() throws Exception {
        authority = new FakeAuthority(Duration.ofMillis(50));
        mint = new Mint(NOW);
        authority.setJwks(Mint.jwks(mint.authorityKey));
        verifier = TokenVerifierTest.verifierFor(authority, NOW);
        verifier.start();
        await(Duration.ofSeconds(10), verifier::revocationFresh);
        staleVerifier = TokenVerifierTest.verifierFor(authority, NOW); // never started: never fresh

        M2mfaFilter filter = M2mfaFilter.builder(verifier)
                .route("/admin", Set.of("key"), "m2mfa:3fa")
                .route("/orders", Set.of("key", "network"), "m2mfa:2fa")
                .route("/public", Set.of(), null)
                .build();
        jetty = jetty(filter);
        staleJetty = jetty(M2mfaFilter.builder(staleVerifier).build());
        base = "http://127.0.0.1:" + ((ServerConnector) jetty.getConnectors()[0]).getLocalPort();
        staleBase = "http://127.0.0.1:" + ((ServerConnector) staleJetty.getConnectors()[0]).getLocalPort();
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    }

    static Server jetty(M2mfaFilter filter) throws Exception {
        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        server.addConnector(connector);
        ServletContextHandler ctx = new ServletContextHandler();
        ctx.setContextPath("/");
        ctx.addFilter(new FilterHolder(filter), "/*", EnumSet.of(DispatcherType.REQUEST));
        ctx.addServlet(new ServletHolder(new Echo()), "/*");
        server.setHandler(ctx);
        server.start();
        return server;
    }

    @AfterAll
    static void stop() throws Exception {
        http.close();
        jetty.stop();
        staleJetty.stop();
        verifier.close();
        staleVerifier.close();
        authority.close();
    }

    @BeforeEach
    void reset() {
        authority.heartbeats(true);
    }

    static HttpResponse<String> send(String url, String authorization, String... dpop) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).GET().timeout(Duration.ofSeconds(10));
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        for (String p : dpop) {
            b.header("DPoP", p);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A DPoP-authenticated GET of {@code path} with a token built by {@code token}. */
    static HttpResponse<String> get(String path, String token) throws Exception {
        return send(base + path, "DPoP " + token, mint.proof("GET", base + path, token));
    }

    static void assertProblem(HttpResponse<String> resp, int status, String slug, String title) throws Exception {
        assertThat(resp.statusCode()).isEqualTo(status);
        assertThat(resp.headers().firstValue("Content-Type")).hasValueSatisfying(
                ct -> assertThat(ct).startsWith("application/problem+json"));
        assertThat(resp.headers().firstValue("Cache-Control")).hasValue("no-store");
        Map<String, Object> body = JSONObjectUtils.parse(resp.body());
        assertThat(body).containsOnlyKeys("type", "title", "status");
        assertThat(body).containsEntry("type", "https://m2mfa.dev/problems/" + slug).containsEntry("title", title)
                .containsEntry("status", (long) status);
        assertNoInternals(resp.body());
    }

    static void assertNoInternals(String body) {
        for (Reason r : Reason.values()) {
            assertThat(body).doesNotContainIgnoringCase(r.name()).doesNotContainIgnoringCase(r.name().replace('_', ' '));
        }
        assertThat(body).doesNotContain("Exception").doesNotContain("dev.m2mfa").doesNotContain("\tat ")
                .doesNotContain("nimbus").doesNotContain("jwks").doesNotContain("127.0.0.1");
    }

    @Test
    void passesAVerifiedRequestWithTheTokenAsAttribute() throws Exception {
        HttpResponse<String> resp = get("/orders/17", mint.token());
        assertThat(resp.statusCode()).isEqualTo(200);
        assertThat(resp.body()).isEqualTo(Mint.SUBJECT + " m2mfa:2fa");
    }

    @Test
    void refusesARequestWithoutTokenAsInvalidToken() throws Exception {
        HttpResponse<String> resp = send(base + "/orders/17", null);
        assertProblem(resp, 401, "invalid-token", "The access token was not accepted");
        assertThat(resp.headers().allValues("WWW-Authenticate")).containsExactly("DPoP error=\"invalid_token\", algs=\"ES256\"");
    }

    @Test
    void answersEveryTokenProblemWithTheSameResponse() throws Exception {
        String token = mint.token();
        List<HttpResponse<String>> responses = List.of(
                send(base + "/orders/1", "Basic dXNlcjpwYXNz"),
                send(base + "/orders/1", "DPoP " + token),
                send(base + "/orders/1", "DPoP " + token, mint.proof("POST", base + "/orders/1", token)),
                send(base + "/orders/1", "DPoP " + mint.token(c -> c.audience("payroll")),
                        mint.proof("GET", base + "/orders/1", token)),
                send(base + "/orders/1", "DPoP " + token, mint.proof("GET", base + "/orders/1", token),
                        mint.proof("GET", base + "/orders/1", token)));
        for (HttpResponse<String> resp : responses) {
            assertProblem(resp, 401, "invalid-token", "The access token was not accepted");
            assertThat(resp.headers().allValues("WWW-Authenticate"))
                    .containsExactly("DPoP error=\"invalid_token\", algs=\"ES256\"");
            assertThat(resp.body()).isEqualTo(responses.get(0).body());
        }
        assertThat(verifier.metrics().rejectedCount(Reason.BAD_PROOF)).isGreaterThanOrEqualTo(2); // incl. two DPoP headers
    }

    @Test
    void asksForAStepUpOnRoutesThatNeedMore() throws Exception {
        HttpResponse<String> resp = get("/admin/users", mint.token());
        assertProblem(resp, 401, "insufficient-authentication", "A stronger authentication is required");
        assertThat(resp.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(c -> assertThat(c)
                .startsWith("DPoP error=\"insufficient_user_authentication\"")
                .contains("acr_values=\"m2mfa:3fa\""));
        HttpResponse<String> ok = get("/admin/users", mint.token(c -> c.claim("acr", "m2mfa:3fa")));
        assertThat(ok.statusCode()).isEqualTo(200);
        HttpResponse<String> factors = get("/orders/1", mint.token(c -> c.claim("amr", List.of("key"))));
        assertProblem(factors, 401, "insufficient-authentication", "A stronger authentication is required");
        assertThat(factors.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(c -> assertThat(c)
                .contains("error=\"insufficient_user_authentication\"").contains("amr_values=\"key network\""));
    }

    @Test
    void matchesRoutesOnWholeSegmentsOfTheNormalizedPath() throws Exception {
        String weak = mint.token(c -> c.claim("acr", "m2mfa:1fa").claim("amr", List.of("key")));
        // "/administrator" is not under "/admin": only a valid token is needed
        assertThat(get("/administrator", weak).statusCode()).isEqualTo(200);
        assertThat(get("/public/x", weak).statusCode()).isEqualTo(200);
        assertThat(get("/admin", weak).statusCode()).isEqualTo(401);
        // a dot-segment does not escape "/admin" through "/public"
        HttpResponse<String> sneaky = get("/public/../admin/users", weak);
        assertThat(sneaky.statusCode()).isIn(400, 401);
        if (sneaky.statusCode() == 401) {
            assertThat(sneaky.headers().firstValue("WWW-Authenticate").orElseThrow())
                    .contains("insufficient_user_authentication");
        }
    }

    @Test
    void answers503WhenRevocationDataIsStale() throws Exception {
        String token = mint.token();
        HttpResponse<String> resp = send(staleBase + "/x", "DPoP " + token, mint.proof("GET", staleBase + "/x", token));
        assertProblem(resp, 503, "verifier-unavailable", "Token verification is temporarily unavailable");
        assertThat(resp.headers().firstValue("WWW-Authenticate")).isEmpty();
        assertThat(resp.headers().firstValue("Retry-After")).hasValue("1");
        assertThat(staleVerifier.metrics().rejectedCount(Reason.REVOCATION_STALE)).isEqualTo(1);
    }
}
