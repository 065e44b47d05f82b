package dev.m2mfa.interop;

import dev.m2mfa.agent.Agent;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** A real authority in a temp directory, on a free loopback port, for one test class. */
final class TestAuthority implements AutoCloseable {
  static final char[] PASSPHRASE = "correct horse battery staple".toCharArray();
  final Path dir;
  final Authority authority;

  TestAuthority(Path base) throws Exception {
    this(base, AuthorityConfig.defaults());
  }

  /** With the default class requiring exactly {@code factors} (tests of the login mechanics that build evidence by hand). */
  TestAuthority(Path base, List<String> factors) throws Exception {
    this(base, AuthorityConfig.defaults().withPolicyClasses(java.util.Map.of("default", factors)));
  }

  TestAuthority(Path base, AuthorityConfig config) throws Exception {
    this.dir = base.resolve("authority");
    Authority.init(dir, config, PASSPHRASE, "ops");
    authority = Authority.open(dir, PASSPHRASE, c -> c.withListen("127.0.0.1", 0).withHeartbeat(Duration.ofMillis(200)));
    authority.start();
  }

  int port() {
    return authority.port();
  }

  String joinToken(String name, String... cidrs) {
    return authority.enrollment().createJoinToken(name, "default", List.of(cidrs), Duration.ofMinutes(5), "test").token();
  }

  /** Enrolls a machine bound to {@code cidr}, connecting from {@code source}. */
  Agent enroll(Path base, String name, String cidr, String source) throws Exception {
    InetAddress bind = InetAddress.ofLiteral(source);
    return Agent.enroll(base.resolve(name), "127.0.0.1", port(), authority.ca().root(), joinToken(name, cidr), PASSPHRASE, bind);
  }

  @Override
  public void close() {
    authority.close();
  }

  static Path tempDir(String prefix) throws Exception {
    return Files.createTempDirectory(prefix);
  }
}
