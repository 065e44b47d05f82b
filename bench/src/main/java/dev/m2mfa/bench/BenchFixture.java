package dev.m2mfa.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.cli.AdminClient;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A throw-away authority in a temp directory (SQLite, TLS 1.3 on 127.0.0.1, ephemeral port)
 * with one machine enrolled from 127.0.0.2, for the JMH benchmarks that need real tokens.
 * Not a benchmark itself.
 */
final class BenchFixture implements AutoCloseable {
  final Path dir;
  final Authority authority;
  final AdminClient admin;
  final Agent agent;
  final URI base;

  private BenchFixture(Path dir, Authority authority, AdminClient admin, Agent agent) {
    this.dir = dir;
    this.authority = authority;
    this.admin = admin;
    this.agent = agent;
    this.base = URI.create("https://127.0.0.1:" + authority.port());
  }

  static BenchFixture start() throws Exception {
    Path dir = Files.createTempDirectory("m2mfa-jmh");
    byte[] b = new byte[24];
    new SecureRandom().nextBytes(b);
    char[] pass = Base64.getUrlEncoder().withoutPadding().encodeToString(b).toCharArray();
    Path authDir = dir.resolve("authority");
    Authority.init(authDir, AuthorityConfig.defaults(), pass, "ops");
    Authority authority = Authority.open(authDir, pass, c -> c.withListen("127.0.0.1", 0));
    authority.start();
    AdminClient admin = AdminClient.forAuthorityDir(authDir, "127.0.0.1", authority.port());
    JsonNode t = admin.post("/v1/admin/join-tokens", Map.of("name", "jmh-machine", "cidrs", List.of("127.0.0.2/32"), "ttl_seconds", 600));
    Agent agent = Agent.enroll(dir.resolve("agent"), "127.0.0.1", authority.port(), authority.ca().root(), t.path("join_token").asText(),
        pass, InetAddress.ofLiteral("127.0.0.2"));
    return new BenchFixture(dir, authority, admin, agent);
  }

  @Override
  public void close() throws IOException {
    admin.close();
    authority.close();
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
