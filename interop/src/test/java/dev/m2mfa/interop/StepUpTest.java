package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;

import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.StepUpClient;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.verifier.M2mfaFilter;
import dev.m2mfa.verifier.TokenVerifier;
import dev.m2mfa.verifier.VerifiedToken;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * RFC 9470 step-up end to end: a policy file with two levels, a relying service whose
 * {@code /payments} route needs the stronger one, the verifier's filter answering
 * {@code insufficient_user_authentication} with {@code acr_values}, and the agent logging in
 * again for that level (the authority then challenges the extra factor) and retrying.
 */
class StepUpTest {
  static final String POLICY = """
      version: 1
      classes:
        default:
          levels:
            - name: baseline
              all_of: [key, network]
              token_lifetime: 5m
            - name: strong
              any_of: {k: 1, of: [otp-chain]}
              token_lifetime: 2m
          audiences:
            "*": baseline
        weak:
          levels:
            - name: baseline
              all_of: [key, network]
          audiences:
            "*": baseline
      """;

  @TempDir static Path tmp;
  static TestAuthority authority;
  static TokenVerifier verifier;
  static Server server;
  static ServerConnector connector;

  @BeforeAll
  static void start() throws Exception {
    Path policy = Files.writeString(tmp.resolve("policy.yaml"), POLICY);
    authority = new TestAuthority(tmp, AuthorityConfig.defaults().withPolicyPath(policy));
    verifier = TokenVerifier.builder().issuer(authority.authority.config().issuer()).audience("payments")
        .authority(URI.create("https://127.0.0.1:" + authority.port())).trustAnchors(authority.authority.ca().root())
        .acrOrder(authority.authority.policies().current().acrOrder()).build();
    verifier.start();
    Poll.until(verifier::revocationFresh, Duration.ofSeconds(10));
    server = new Server();
    connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler ctx = new ServletContextHandler();
    ctx.setContextPath("/");
    M2mfaFilter filter = M2mfaFilter.builder(verifier).route("/payments", Set.of("key"), "m2mfa:strong").route("/balance", Set.of("key"), null).build();
    ctx.addFilter(new FilterHolder(filter), "/*", EnumSet.of(DispatcherType.REQUEST));
    ctx.addServlet(new ServletHolder(new HttpServlet() {
      @Override
      protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        VerifiedToken t = (VerifiedToken) req.getAttribute(M2mfaFilter.TOKEN_ATTRIBUTE);
        resp.getWriter().write(t.acr());
      }
    }), "/*");
    server.setHandler(ctx);
    server.start();
  }

  @AfterAll
  static void stop() throws Exception {
    server.stop();
    verifier.close();
    authority.close();
  }

  static URI uri(String path) {
    return URI.create("http://127.0.0.1:" + connector.getLocalPort() + path);
  }

  @Test
  void theServiceAsksForAStrongerLevelAndTheAgentStepsUpAndRetries() throws Exception {
    Agent agent = authority.enroll(tmp, "step-a", "127.0.0.2/32", "127.0.0.2");
    StepUpClient client = new StepUpClient(agent, HttpClient.newHttpClient(), "payments");

    HttpResponse<String> balance = client.get(uri("/balance"));
    assertThat(balance.statusCode()).isEqualTo(200);
    assertThat(balance.body()).isEqualTo("m2mfa:baseline");
    assertThat(client.credential().amr()).containsExactly("key", "network"); // the baseline login did not even ask for otp-chain

    // the baseline token on the strong route: the standard challenge
    String baselineToken = client.credential().accessToken();
    HttpResponse<String> refused = HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(uri("/payments"))
        .header("Authorization", "DPoP " + baselineToken).header("DPoP", agent.dpopProof("GET", uri("/payments"), baselineToken)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(refused.statusCode()).isEqualTo(401);
    String challenge = refused.headers().firstValue("WWW-Authenticate").orElseThrow();
    assertThat(challenge).contains("error=\"insufficient_user_authentication\"").contains("acr_values=\"m2mfa:strong\"");
    assertThat(StepUpClient.acrValues(List.of(challenge))).containsExactly("m2mfa:strong");

    // the client follows it: logs in again for m2mfa:strong (now otp-chain is challenged) and retries
    HttpResponse<String> payments = client.get(uri("/payments"));
    assertThat(payments.statusCode()).isEqualTo(200);
    assertThat(payments.body()).isEqualTo("m2mfa:strong");
    assertThat(client.credential().acr()).isEqualTo("m2mfa:strong");
    assertThat(client.credential().amr()).contains("key", "network", "otp-chain");
    assertThat(client.credential().expiresAt()).isBefore(java.time.Instant.now().plusSeconds(121)); // the strong level's 2 minutes
  }

  @Test
  void aMachineWhoseClassHasNoStrongerLevelCannotStepUp() throws Exception {
    String token = authority.authority.enrollment().createJoinToken("step-weak", "weak", List.of("127.0.0.3/32"), Duration.ofMinutes(5), "test")
        .token();
    Agent agent = Agent.enroll(tmp.resolve("step-weak"), "127.0.0.1", authority.port(), authority.authority.ca().root(), token,
        TestAuthority.PASSPHRASE, InetAddress.ofLiteral("127.0.0.3"));
    StepUpClient client = new StepUpClient(agent, HttpClient.newHttpClient(), "payments");
    HttpResponse<String> payments = client.get(uri("/payments"));
    assertThat(payments.statusCode()).isEqualTo(401);
    assertThat(client.credential().acr()).isEqualTo("m2mfa:baseline");
    String[] reason = {""};
    authority.authority.store().audit().scan(1, r -> {
      if (r.event().equals("login.denied") && r.subject().equals("step-weak")) reason[0] = r.detail();
    });
    assertThat(reason[0]).contains("requested acr 'm2mfa:strong' is not offered by class 'weak'");
  }
}
