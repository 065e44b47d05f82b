package dev.m2mfa.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.keys.KeyConfig;
import dev.m2mfa.agent.keys.KeyContext;
import dev.m2mfa.agent.keys.KeyLockedException;
import dev.m2mfa.agent.keys.SealedKey;
import dev.m2mfa.agent.keys.SealedKeyProvider;
import dev.m2mfa.authority.Authority;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Demo scene: machine-c's identity key is sealed to 2 of 3 operator shares. After a restart
 * the agent holds only the encrypted file: it cannot log in. One operator's share is not
 * enough; a second operator's share unlocks the key in memory and the login succeeds.
 * (The shares go in through {@link SealedKey#offerShare}, the same call the daemon's
 * {@code POST /unlock} makes for {@code m2mfa agent unlock}.)
 */
final class DemoSealedScene {
  /** What the scene observed. */
  record Outcome(String expected, String observed, boolean ok) {}

  private DemoSealedScene() {}

  static Outcome play(AdminClient admin, Authority authority, Path tmp, String audience) throws Exception {
    String address = "127.0.0.4";
    JsonNode t = admin.post("/v1/admin/join-tokens", Map.of("name", "machine-c", "cidrs", List.of(address + "/32"), "ttl_seconds", 300));
    Path dir = tmp.resolve("machine-c");
    char[] first = "machine-c enrollment passphrase".toCharArray();
    // 16 MiB Argon2id keeps the demo quick; production defaults are 64 MiB, 3 passes
    KeyConfig sealed = KeyConfig.of("sealed", Map.of("argon2_memory_kib", "16384", "argon2_iterations", "2"));
    Agent enrolled = Agent.enroll(dir, "127.0.0.1", authority.port(), authority.ca().root(), t.path("join_token").asText(), sealed,
        KeyContext.Secrets.fixed(first), InetAddress.ofLiteral(address));
    KeyContext ctx = KeyContext.of(dir, sealed.options(), KeyContext.Secrets.none());
    List<String> shares = SealedKeyProvider.resealToShares((SealedKey) enrolled.key(), ctx, 2, 3);

    Agent restarted = Agent.open(dir, KeyContext.Secrets.none(), null);
    SealedKey key = (SealedKey) restarted.key();
    String locked = tryLogin(restarted, audience);
    SealedKey.Progress one = key.offerShare(shares.get(2));
    String afterOne = tryLogin(restarted, audience);
    SealedKey.Progress two = key.offerShare(shares.get(0));
    String afterTwo = tryLogin(restarted, audience);
    boolean ok = locked.startsWith("refused") && afterOne.startsWith("refused") && !one.unlocked() && two.unlocked()
        && afterTwo.startsWith("logged in");
    return new Outcome("no login while sealed or with 1 share; 2 of 3 operators' shares unlock it and it logs in",
        "after restart: " + locked + "; share 3 given (1 of 2): " + afterOne + "; share 1 given (2 of 2): " + afterTwo, ok);
  }

  private static String tryLogin(Agent agent, String audience) throws IOException {
    try {
      return "logged in, amr=" + agent.login(audience).amr();
    } catch (KeyLockedException e) {
      return "refused locally (key locked)";
    }
  }
}
