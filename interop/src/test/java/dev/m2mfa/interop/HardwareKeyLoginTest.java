package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.keys.KeyConfig;
import dev.m2mfa.agent.keys.KeyContext;
import dev.m2mfa.agent.keys.KeyLockedException;
import dev.m2mfa.agent.keys.Pkcs11KeyProvider;
import dev.m2mfa.agent.keys.SealedKey;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.testkit.SoftHsm;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Keys in a PKCS#11 token (SoftHSM2) and sealed keys against a real authority: enrollment
 * records the residence, the hardware factor passes only for a trusted PKCS#11 key, the agent
 * presents its token key in mutual TLS, and a copy of the agent's directory cannot log in.
 */
class HardwareKeyLoginTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final char[] CA_PASS = "hardware test CA passphrase".toCharArray();
  @TempDir static Path tmp;
  static Authority authority;

  @BeforeAll
  static void start() throws Exception {
    Path dir = tmp.resolve("authority");
    AuthorityConfig cfg = AuthorityConfig.defaults()
        .withPolicyClasses(Map.of("default", List.of("key", "network"), "hsm", List.of("key", "network", "hardware"),
            "edge", List.of("key", "network", "hardware")))
        .withPluginOptions(Map.of("hardware.trust_pkcs11.hsm", "true"));
    Authority.init(dir, cfg, CA_PASS, "ops");
    authority = Authority.open(dir, CA_PASS, c -> c.withListen("127.0.0.1", 0).withHeartbeat(Duration.ofMillis(200)));
    authority.start();
  }

  @AfterAll
  static void stop() {
    authority.close();
  }

  static Map<String, String> tokenKey(String token, String label) throws IOException {
    Map<String, String> o = new LinkedHashMap<>(SoftHsm.keyOptions(token, tmp.resolve("pins")));
    o.put("key_label", label);
    return o;
  }

  static Agent enroll(String name, String cls, String address, KeyConfig keys, KeyContext.Secrets secrets) throws IOException {
    String jt = authority.enrollment().createJoinToken(name, cls, List.of(address + "/32"), Duration.ofMinutes(5), "test").token();
    return Agent.enroll(tmp.resolve(name), "127.0.0.1", authority.port(), authority.ca().root(), jt, keys, secrets, InetAddress.ofLiteral(address));
  }

  static JsonNode residence(String name) throws IOException {
    return JSON.readTree(authority.store().factorStates().get(name, "hardware").orElseThrow());
  }

  static JsonNode claims(String jwt) throws IOException {
    return JSON.readTree(Base64.getUrlDecoder().decode(jwt.split("\\.")[1]));
  }

  @Test
  void aPkcs11AgentEnrollsLogsInOverMutualTlsAndPassesTheHardwareFactor() throws Exception {
    Agent a = enroll("hsm-a", "hsm", "127.0.0.41", KeyConfig.of("pkcs11", tokenKey("m2mfa-a", "hsm-a")), KeyContext.Secrets.none());
    assertThat(residence("hsm-a").path("residence").asText()).isEqualTo("pkcs11");
    assertThat(residence("hsm-a").path("proof").asText()).isEqualTo("operator-trust");

    Agent.Credential c = a.login("svc");
    assertThat(c.amr()).containsExactly("key", "network", "hardware");
    assertThat(claims(c.accessToken()).path("cnf").has("x5t#S256")).as("the token key was presented in mutual TLS").isTrue();

    // a restarted agent (a new handle from agent.conf and the token) logs in the same way
    Agent reopened = Agent.open(tmp.resolve("hsm-a"), KeyContext.Secrets.none(), null);
    assertThat(reopened.key().provider()).isEqualTo("pkcs11");
    assertThat(reopened.login("svc").amr()).contains("hardware");
    assertThat(Files.readString(tmp.resolve("hsm-a/agent.conf"))).contains("key_provider=pkcs11").doesNotContain(SoftHsm.USER_PIN);
  }

  @Test
  void aPkcs11KeyInAClassThatDoesNotTrustPkcs11FailsTheHardwareFactor() throws Exception {
    Agent a = enroll("hsm-edge", "edge", "127.0.0.42", KeyConfig.of("pkcs11", tokenKey("m2mfa-a", "hsm-edge")), KeyContext.Secrets.none());
    assertThat(residence("hsm-edge").path("proof").asText()).isEqualTo("none");
    assertThatThrownBy(() -> a.login("svc")).isInstanceOf(Agent.RefusedException.class).hasMessageContaining("401");
    assertThat(lastHardwareReason()).contains("does not trust PKCS#11 claims");
  }

  @Test
  void aSoftwareKeyInAHardwareClassFails() throws Exception {
    Agent a = enroll("soft-in-hsm", "hsm", "127.0.0.43", KeyConfig.software(), KeyContext.Secrets.fixed("soft pass".toCharArray()));
    assertThat(residence("soft-in-hsm").path("residence").asText()).isEqualTo("software");
    assertThatThrownBy(() -> a.login("svc")).isInstanceOf(Agent.RefusedException.class);
    assertThat(lastHardwareReason()).contains("no proof of hardware residence");
  }

  @Test
  void theCopiedFilesOfAPkcs11MachineDoNotCopyItsKey() throws Exception {
    Agent a = enroll("hsm-copied", "hsm", "127.0.0.44", KeyConfig.of("pkcs11", tokenKey("m2mfa-b", "hsm-copied")), KeyContext.Secrets.none());
    assertThat(a.login("svc").amr()).contains("hardware");
    Path stolen = tmp.resolve("hsm-copied-stolen");
    copyTree(tmp.resolve("hsm-copied"), stolen);
    // the thief's machine has its own, empty token where the copied agent.conf's slot points
    pointAtToken(stolen, "m2mfa-empty");
    assertThatThrownBy(() -> Agent.open(stolen, KeyContext.Secrets.none(), null)).hasMessageContaining("holds no key labelled hsm-copied");
    // the thief makes a key under the same label in their token and reuses every copied file
    new Pkcs11KeyProvider().generate(KeyContext.of(stolen, tokenKey("m2mfa-empty", "hsm-copied"), KeyContext.Secrets.none()));
    Agent thief = Agent.open(stolen, KeyContext.Secrets.none(), null);
    // the copied certificate names the real key: the authority's TLS refuses the thief's CertificateVerify
    // and aborts the handshake (the client sees the alert, or a reset if it was still writing)
    long allowedBefore = allowedLogins("hsm-copied");
    assertThatThrownBy(() -> thief.login("svc")).isInstanceOfAny(javax.net.ssl.SSLHandshakeException.class, java.net.SocketException.class);
    assertThat(allowedLogins("hsm-copied")).as("no login of the thief reached the authority's decision").isEqualTo(allowedBefore);
    assertThat(a.login("svc").amr()).as("the real machine is unaffected").contains("hardware");
  }

  @Test
  void aSealedAgentRefusesToLogInUntilUnlockedAndRecordsItsResidence() throws Exception {
    KeyConfig sealed = KeyConfig.of("sealed", Map.of("argon2_memory_kib", "8192", "argon2_iterations", "1"));
    enroll("sealed-a", "default", "127.0.0.45", sealed, KeyContext.Secrets.fixed("seal pass".toCharArray()));
    assertThat(residence("sealed-a").path("residence").asText()).isEqualTo("sealed");
    Agent restarted = Agent.open(tmp.resolve("sealed-a"), KeyContext.Secrets.none(), null);
    assertThatThrownBy(() -> restarted.login("svc")).isInstanceOf(KeyLockedException.class);
    ((SealedKey) restarted.key()).unlockWithPassphrase("seal pass".toCharArray());
    Agent.Credential c = restarted.login("svc");
    assertThat(c.amr()).containsExactly("key", "network");
    assertThat(claims(c.accessToken()).path("cnf").has("jkt")).isTrue();
    assertThat(claims(c.accessToken()).path("cnf").has("x5t#S256")).as("a sealed key offers no TLS key: jkt binding only").isFalse();
  }

  static long allowedLogins(String machine) {
    long[] n = {0};
    authority.store().audit().scan(1, r -> {
      if (r.event().equals("login.allowed") && r.subject().equals(machine)) n[0]++;
    });
    return n[0];
  }

  static String lastHardwareReason() {
    String[] reason = {""};
    authority.store().audit().scan(1, r -> {
      if (!r.event().equals("login.denied")) return;
      try {
        for (JsonNode f : JSON.readTree(r.detail()).path("factors")) {
          if (f.path("factor").asText().equals("hardware")) reason[0] = f.path("reason").asText();
        }
      } catch (IOException ignored) {
        // not JSON
      }
    });
    return reason[0];
  }

  static void pointAtToken(Path agentDir, String token) throws IOException {
    Properties p = new Properties();
    try (var r = Files.newBufferedReader(agentDir.resolve("agent.conf"))) {
      p.load(r);
    }
    p.setProperty("key.slot", SoftHsm.slot(token));
    try (var w = Files.newBufferedWriter(agentDir.resolve("agent.conf"), StandardCharsets.UTF_8)) {
      p.store(w, null);
    }
  }

  static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) Files.createDirectories(target);
        else Files.copy(p, target);
      }
    }
  }
}
