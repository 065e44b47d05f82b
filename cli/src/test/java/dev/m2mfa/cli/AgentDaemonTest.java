package dev.m2mfa.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import java.net.InetAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `m2mfa agent run`: the token reaches local workloads through a 0600 file and the Unix socket, never the key. */
class AgentDaemonTest {
  static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path tmp;

  @Test
  void tokenFileAndSocketServeAFreshBoundToken() throws Exception {
    char[] pass = "agent daemon test passphrase".toCharArray();
    Path passFile = tmp.resolve("pass");
    Files.writeString(passFile, new String(pass));
    Authority.init(tmp.resolve("auth"), AuthorityConfig.defaults(), pass, "ops");
    try (Authority authority = Authority.open(tmp.resolve("auth"), pass, c -> c.withListen("127.0.0.1", 0))) {
      authority.start();
      String jt = authority.enrollment().createJoinToken("daemon-a", "default", List.of("127.0.0.1/32"), Duration.ofMinutes(5), "test").token();
      Path agentDir = tmp.resolve("agent");
      Agent.enroll(agentDir, "127.0.0.1", authority.port(), authority.ca().root(), jt, pass, InetAddress.ofLiteral("127.0.0.1"));

      Thread daemon = Thread.ofPlatform().daemon().start(() -> Main.execute("agent", "run", "--dir", agentDir.toString(),
          "--passphrase-file", passFile.toString(), "--audience", "inventory"));
      Path socket = agentDir.resolve("agent.sock");
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (!Files.exists(socket) && System.nanoTime() < deadline && daemon.isAlive()) Thread.sleep(20);
      assertThat(socket).exists();

      Path tokenFile = agentDir.resolve("token.json");
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile))).isEqualTo("rw-------");
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket))).isEqualTo("rw-------");
      JsonNode file = JSON.readTree(tokenFile.toFile());
      assertThat(file.path("amr").toString()).isEqualTo("[\"key\",\"network\",\"otp-chain\"]");

      JsonNode token = JSON.readTree(body(ask(socket, "GET /token HTTP/1.1\r\nHost: l\r\n\r\n")));
      assertThat(token.path("access_token").asText()).isEqualTo(file.path("access_token").asText());

      String dpopAnswer = ask(socket, "GET /dpop?htm=GET&htu=https%3A%2F%2Fsvc.test%2Fitems HTTP/1.1\r\nHost: l\r\n\r\n");
      JsonNode dpop = JSON.readTree(body(dpopAnswer));
      assertThat(dpop.path("dpop").asText().split("\\.")).hasSize(3);
      assertThat(dpopAnswer).doesNotContain("PRIVATE").doesNotContain("\"d\"");

      assertThat(ask(socket, "POST /token HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 405");
      assertThat(ask(socket, "GET /key HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 404");
    }
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

  private static String body(String response) {
    return response.substring(response.indexOf("\r\n\r\n") + 4);
  }
}
