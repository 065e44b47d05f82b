package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.m2mfa.agent.Agent;
import dev.m2mfa.verifier.TokenRejectedException;
import dev.m2mfa.verifier.TokenRequest;
import dev.m2mfa.verifier.TokenVerifier;
import dev.m2mfa.verifier.VerifiedToken;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The spine over real TLS on loopback: enroll, login, token, offline verification, revocation pushed. */
class EndToEndTest {
  @TempDir static Path tmp;
  static TestAuthority authority;
  static TokenVerifier verifier;
  static final URI SERVICE = URI.create("https://inventory.test/items");

  @BeforeAll
  static void start() throws Exception {
    authority = new TestAuthority(tmp);
    verifier = verifierFor(authority, Duration.ofSeconds(30));
    verifier.start();
    Poll.until(verifier::revocationFresh, Duration.ofSeconds(10));
  }

  static TokenVerifier verifierFor(TestAuthority a, Duration staleness) {
    return TokenVerifier.builder().issuer(a.authority.config().issuer()).audience("inventory")
        .authority(URI.create("https://127.0.0.1:" + a.port())).trustAnchors(a.authority.ca().root())
        .revocationStaleness(staleness).build();
  }

  @AfterAll
  static void stop() {
    verifier.close();
    authority.close();
  }

  static TokenRequest dpopRequest(Agent agent, String token) {
    return TokenRequest.builder().authorization("DPoP " + token).dpop(agent.dpopProof("GET", SERVICE, token))
        .method("GET").uri(SERVICE).requiredAmr(List.of("key", "network")).build();
  }

  @Test
  void enrollLoginVerifyRevokeRefuse() throws Exception {
    Agent agent = authority.enroll(tmp, "e2e-a", "127.0.0.4/32", "127.0.0.4");
    Agent.Credential c = agent.login("inventory");

    VerifiedToken t = verifier.verify(dpopRequest(agent, c.accessToken()));
    assertThat(t.machine()).isEqualTo("e2e-a");
    assertThat(t.subject()).isEqualTo("spiffe://m2mfa.local/machine/e2e-a");
    assertThat(t.amr()).containsExactlyInAnyOrder("key", "network", "otp-chain");
    assertThat(t.acr()).isEqualTo("m2mfa:3fa");

    long seqBefore = verifier.lastRevocationSeq();
    authority.authority.revocations().revoke("e2e-a", "test", "test");
    Poll.until(() -> verifier.lastRevocationSeq() > seqBefore, Duration.ofSeconds(5));

    assertThatThrownBy(() -> verifier.verify(dpopRequest(agent, c.accessToken())))
        .isInstanceOfSatisfying(TokenRejectedException.class, e -> assertThat(e.reason()).isEqualTo(TokenRejectedException.Reason.REVOKED));
    assertThatThrownBy(() -> agent.login("inventory")).isInstanceOf(Agent.RefusedException.class);
  }

  @Test
  void reinstatedMachineIsAcceptedAgain() throws Exception {
    Agent agent = authority.enroll(tmp, "e2e-b", "127.0.0.5/32", "127.0.0.5");
    authority.authority.revocations().revoke("e2e-b", "test", "test");
    Poll.until(() -> rejected(agent), Duration.ofSeconds(5));
    authority.authority.revocations().reinstate("e2e-b", "test", "test");
    Agent.Credential c = agent.login("inventory");
    Poll.until(() -> !rejected(agent, c.accessToken()), Duration.ofSeconds(5));
    assertThat(verifier.verify(dpopRequest(agent, c.accessToken())).machine()).isEqualTo("e2e-b");
  }

  private static boolean rejected(Agent agent) {
    try {
      return rejected(agent, agent.login("inventory").accessToken());
    } catch (Agent.RefusedException e) {
      return true;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static boolean rejected(Agent agent, String token) {
    try {
      verifier.verify(dpopRequest(agent, token));
      return false;
    } catch (TokenRejectedException e) {
      return true;
    }
  }

  @Test
  void verifierCutOffFromRevocationsFailsClosedAfterStaleness() throws Exception {
    Path dir = tmp.resolve("isolated");
    try (TestAuthority isolated = new TestAuthority(dir)) {
      Agent agent = isolated.enroll(dir, "e2e-c", "127.0.0.6/32", "127.0.0.6");
      Agent.Credential c = agent.login("inventory");
      try (TokenVerifier v = verifierFor(isolated, Duration.ofMillis(800))) {
        v.start();
        Poll.until(v::revocationFresh, Duration.ofSeconds(10));
        assertThat(v.verify(dpopRequest(agent, c.accessToken())).machine()).isEqualTo("e2e-c");
        isolated.close(); // the authority goes away: no more heartbeats
        Poll.until(() -> !v.revocationFresh(), Duration.ofSeconds(10));
        assertThatThrownBy(() -> v.verify(dpopRequest(agent, c.accessToken())))
            .isInstanceOfSatisfying(TokenRejectedException.class,
                e -> assertThat(e.reason()).isEqualTo(TokenRejectedException.Reason.REVOCATION_STALE));
      }
    }
  }
}
