package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.authority.audit.AuditLog;
import dev.m2mfa.authority.store.AuditRecord;
import dev.m2mfa.authority.store.JdbcStore;
import dev.m2mfa.authority.store.MachineRecord;
import dev.m2mfa.authority.store.RevocationRecord;
import dev.m2mfa.interop.AdminClient.Reply;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash durability: a revocation the authority acknowledged to the admin is on disk, even when
 * the authority process is killed with SIGKILL the moment the acknowledgement arrives.
 */
class DurabilityTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int ROUNDS = 5;
  private static final Duration START_DEADLINE = Duration.ofSeconds(90);
  private static final Duration DEATH_DEADLINE = Duration.ofSeconds(30);

  @TempDir Path tmp;

  @Test
  void acknowledgedRevocationSurvivesKill9OfTheAuthority() throws Exception {
    Path dir = tmp.resolve("authority");
    Authority.init(dir, AuthorityConfig.defaults(), TestAuthority.PASSPHRASE, "ops");
    Path passphraseFile = passphraseFile(tmp);
    SSLContext adminTls = AdminClient.admin(dir);

    for (int round = 0; round < ROUNDS; round++) {
      String name = "durable-" + round;
      String spiffeId;
      // enroll in an in-process authority (which also proves the directory reopens after the previous kill)
      try (Authority a = Authority.open(dir, TestAuthority.PASSPHRASE, c -> c.withListen("127.0.0.1", 0))) {
        a.start();
        String token = a.enrollment().createJoinToken(name, "default", List.of("127.0.0.1/32"), Duration.ofMinutes(5), "test").token();
        Agent agent = Agent.enroll(tmp.resolve(name), "127.0.0.1", a.port(), a.ca().root(), token, TestAuthority.PASSPHRASE,
            InetAddress.ofLiteral("127.0.0.1"));
        assertThat(agent.name()).isEqualTo(name);
        MachineRecord m = a.store().machines().find(name).orElseThrow();
        assertThat(m.status()).isEqualTo(MachineRecord.ACTIVE);
        spiffeId = m.spiffeId();
      }

      Path log = tmp.resolve("authority-" + round + ".log");
      Process child = startAuthority(dir, passphraseFile, log);
      long ackSeq;
      try {
        int port = awaitReady(child, log);
        // armed before the request so that the kill follows the acknowledgement with no fork in between
        Process killer = new ProcessBuilder("sh", "-c", "read go && kill -9 " + child.pid()).redirectErrorStream(true).start();
        Reply r;
        try (HttpClient c = AdminClient.client(adminTls)) {
          r = AdminClient.postJson(c, port, "/v1/admin/machines/" + name + "/revoke", "{\"reason\":\"durability round " + round + "\"}");
          if (r.status() == 200) {
            OutputStream go = killer.getOutputStream();
            go.write('\n');
            go.flush();
          }
        }
        killer.getOutputStream().close(); // disarms it if the revocation was not acknowledged
        assertThat(killer.waitFor(DEATH_DEADLINE.toSeconds(), TimeUnit.SECONDS)).as("kill -9 ran").isTrue();
        assertThat(r.status()).as("revocation acknowledged; body %s", r.body()).isEqualTo(200);
        assertThat(killer.exitValue()).as("kill -9 %d succeeded", child.pid()).isZero();
        JsonNode ack = JSON.readTree(r.body());
        assertThat(ack.path("seq").isIntegralNumber()).as("ack carries seq: %s", r.body()).isTrue();
        ackSeq = ack.path("seq").asLong();
        assertThat(ack.path("subject").asText()).isEqualTo(spiffeId);
        assertThat(ack.path("kind").asText()).isEqualTo("revoke");

        assertThat(child.waitFor(DEATH_DEADLINE.toSeconds(), TimeUnit.SECONDS)).as("authority died").isTrue();
        assertThat(child.exitValue()).as("authority died of SIGKILL (128 + 9), not a clean exit").isEqualTo(137);
      } finally {
        if (child.isAlive()) {
          child.destroyForcibly();
          child.waitFor(DEATH_DEADLINE.toSeconds(), TimeUnit.SECONDS);
        }
      }

      try (JdbcStore store = JdbcStore.openSqlite(dir.resolve("m2mfa.db"))) {
        MachineRecord m = store.machines().find(name).orElseThrow();
        assertThat(m.status()).as("status of %s after kill -9", name).isEqualTo(MachineRecord.REVOKED);
        assertThat(store.revocations().latestSeq()).isGreaterThanOrEqualTo(ackSeq);
        List<RevocationRecord> events = store.revocations().after(ackSeq - 1, 1);
        assertThat(events).as("revocation event seq %d after kill -9", ackSeq).hasSize(1);
        RevocationRecord e = events.getFirst();
        assertThat(e.seq()).isEqualTo(ackSeq);
        assertThat(e.kind()).isEqualTo("revoke");
        assertThat(e.subject()).isEqualTo(spiffeId);
        assertThat(e.reason()).isEqualTo("durability round " + round);

        AuditLog.Verification v = AuditLog.verify(store);
        assertThat(v.ok()).as("audit chain intact after kill -9: %s", v).isTrue();
        List<AuditRecord> revokes = new ArrayList<>();
        store.audit().scan(1, rec -> {
          if (rec.event().equals("machine.revoke") && rec.subject().equals(name)) revokes.add(rec);
        });
        assertThat(revokes).as("audit record of the acknowledged revocation").hasSize(1);
        assertThat(JSON.readTree(revokes.getFirst().detail()).path("seq").asLong()).isEqualTo(ackSeq);
      }
    }
  }

  /** Starts {@link AuthorityMain} as a child JVM; its stderr goes to {@code log}. */
  static Process startAuthority(Path dir, Path passphraseFile, Path log, String... jvmOptions) throws IOException {
    String java = System.getenv("M2MFA_TEST_JAVA");
    if (java == null || java.isBlank()) java = ProcessHandle.current().info().command().orElseThrow();
    List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir")));
    cmd.addAll(List.of(jvmOptions));
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), AuthorityMain.class.getName(), dir.toString(),
        passphraseFile.toString()));
    return new ProcessBuilder(cmd).redirectError(log.toFile()).start();
  }

  /** Writes the passphrase file (0600) that {@link AuthorityMain} reads. */
  static Path passphraseFile(Path dir) throws IOException {
    Path file = dir.resolve("passphrase");
    Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(file, new String(TestAuthority.PASSPHRASE));
    return file;
  }

  /** Reads {@code READY <port>} from the child's stdout, with a deadline; keeps draining stdout after. */
  static int awaitReady(Process child, Path log) throws Exception {
    CompletableFuture<Integer> ready = new CompletableFuture<>();
    Thread.ofVirtual().start(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line = r.readLine(); line != null; line = r.readLine()) {
          if (!ready.isDone() && line.startsWith("READY ")) ready.complete(Integer.parseInt(line.substring(6).strip()));
        }
        ready.completeExceptionally(new IOException("authority exited before READY"));
      } catch (Exception e) {
        ready.completeExceptionally(e);
      }
    });
    try {
      return ready.get(START_DEADLINE.toSeconds(), TimeUnit.SECONDS);
    } catch (TimeoutException | java.util.concurrent.ExecutionException e) {
      String err = Files.exists(log) ? Files.readString(log) : "";
      return fail("authority did not become ready (" + e + "); its stderr:\n" + err);
    }
  }
}
