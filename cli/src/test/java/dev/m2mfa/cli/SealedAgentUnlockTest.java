package dev.m2mfa.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.keys.KeyConfig;
import dev.m2mfa.agent.keys.KeyContext;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code m2mfa agent seal} hands out 2-of-3 shares; {@code m2mfa agent run} starts locked and
 * serves no token; two operators' {@code m2mfa agent unlock} calls through the daemon's socket
 * unlock it, a bad share in between is refused, and the daemon then logs in.
 */
class SealedAgentUnlockTest {
  @TempDir Path tmp;

  @Test
  void theDaemonStartsLockedAndTwoOperatorsUnlockItThroughTheSocket() throws Exception {
    char[] pass = "sealed daemon test passphrase".toCharArray();
    Path passFile = tmp.resolve("pass");
    Files.writeString(passFile, new String(pass));
    Authority.init(tmp.resolve("auth"), AuthorityConfig.defaults(), pass, "ops");
    try (Authority authority = Authority.open(tmp.resolve("auth"), pass, c -> c.withListen("127.0.0.1", 0))) {
      authority.start();
      String jt = authority.enrollment().createJoinToken("sealed-d", "default", List.of("127.0.0.1/32"), Duration.ofMinutes(5), "test").token();
      Path agentDir = tmp.resolve("agent");
      Agent.enroll(agentDir, "127.0.0.1", authority.port(), authority.ca().root(), jt,
          KeyConfig.of("sealed", Map.of("argon2_memory_kib", "8192", "argon2_iterations", "1")), KeyContext.Secrets.fixed(pass),
          InetAddress.ofLiteral("127.0.0.1"));

      String sealOut = captureOut(() -> Main.execute("agent", "seal", "--dir", agentDir.toString(), "--shares", "3", "--threshold", "2",
          "--passphrase-file", passFile.toString()));
      Matcher m = Pattern.compile("share (\\d) of 3: (m2mfa-share-v1\\S+)").matcher(sealOut);
      String[] shares = new String[4];
      while (m.find()) shares[Integer.parseInt(m.group(1))] = m.group(2);
      assertThat(shares[1]).isNotNull();
      assertThat(shares[3]).isNotNull();
      for (int i = 1; i <= 3; i++) Files.writeString(tmp.resolve("share-" + i), shares[i]);
      Files.writeString(tmp.resolve("share-bad"), shares[2].replace("m2mfa-share-v1.2of3.2.", "m2mfa-share-v1.2of3.9."));

      Thread daemon = Thread.ofPlatform().daemon().start(() -> Main.execute("agent", "run", "--dir", agentDir.toString(), "--audience", "inventory"));
      Path socket = agentDir.resolve("agent.sock");
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (!Files.exists(socket) && System.nanoTime() < deadline && daemon.isAlive()) Thread.sleep(20);
      assertThat(ask(socket, "GET /token HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 503").contains("locked");
      assertThat(agentDir.resolve("token.json")).doesNotExist();

      assertThat(Main.execute("agent", "unlock", "--dir", agentDir.toString(), "--share-file", tmp.resolve("share-3").toString())).isZero();
      assertThat(ask(socket, "GET /token HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 503");
      assertThat(Main.execute("agent", "unlock", "--dir", agentDir.toString(), "--share-file", tmp.resolve("share-bad").toString())).isEqualTo(1);
      assertThat(Main.execute("agent", "unlock", "--dir", agentDir.toString(), "--share-file", tmp.resolve("share-3").toString())).isZero();
      assertThat(Main.execute("agent", "unlock", "--dir", agentDir.toString(), "--share-file", tmp.resolve("share-1").toString())).isZero();

      Path tokenFile = agentDir.resolve("token.json");
      while (!Files.exists(tokenFile) && System.nanoTime() < deadline) Thread.sleep(20);
      assertThat(ask(socket, "GET /token HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 200").contains("access_token");
      assertThat(Files.list(agentDir).map(p -> p.getFileName().toString()).toList()).doesNotContain("identity.key");
      daemon.interrupt();
    }
  }

  private static String captureOut(Runnable r) {
    PrintStream old = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      r.run();
    } finally {
      System.setOut(old);
    }
    return buf.toString(StandardCharsets.UTF_8);
  }

  private static String ask(Path socket, String request) throws Exception {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      ch.write(ByteBuffer.wrap(request.getBytes(StandardCharsets.US_ASCII)));
      ByteBuffer buf = ByteBuffer.allocate(16 * 1024);
      while (ch.read(buf) > 0) { /* read to EOF */ }
      return new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
    }
  }
}
