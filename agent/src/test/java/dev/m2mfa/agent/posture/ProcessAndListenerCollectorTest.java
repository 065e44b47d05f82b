package dev.m2mfa.agent.posture;

import static org.assertj.core.api.Assertions.assertThat;

import dev.m2mfa.api.posture.Measurement;
import dev.m2mfa.testkit.ExternalTool;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Processes and listeners of this very machine: a real child process and real sockets opened by the test. */
class ProcessAndListenerCollectorTest {
  @TempDir Path dir;

  @Test
  void aProcessStartedFromACopiedBinaryIsReportedWithItsHashAndThenAsDeleted() throws Exception {
    Path sleep = ExternalTool.require("coreutils", "/usr/bin/sleep");
    Path x = dir.toRealPath().resolve("x");
    Files.copy(sleep, x, StandardCopyOption.COPY_ATTRIBUTES);
    String want = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(x)));
    Process p = new ProcessBuilder(x.toString(), "60").start();
    try {
      String prefix = dir.toRealPath().toString();
      List<Measurement> found = waitFor(prefix, x.toString());
      assertThat(found).containsExactly(new Measurement(Measurement.Kind.PROCESS, x.toString(), want));

      Files.delete(x); // the attacker removes the binary after starting it
      List<Measurement> after = new ProcessCollector().collect(path -> path.startsWith(prefix));
      assertThat(after).containsExactly(new Measurement(Measurement.Kind.PROCESS, x.toString(), "deleted:" + want));
    } finally {
      p.destroyForcibly().waitFor();
    }
  }

  private static List<Measurement> waitFor(String prefix, String exe) throws Exception {
    // the child may not have exec'd yet right after start(): its /proc/PID/exe is then still the JVM
    for (int i = 0; i < 200; i++) {
      List<Measurement> found = new ProcessCollector().collect(path -> path.startsWith(prefix));
      if (!found.isEmpty()) return found;
      Thread.sleep(10);
    }
    return List.of();
  }

  @Test
  void aListeningTcpSocketIsFoundWithItsPortAndOwner() throws Exception {
    String me = Files.readSymbolicLink(Path.of("/proc/self/exe")).toString();
    try (ServerSocket s = new ServerSocket()) {
      s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      int port = s.getLocalPort();
      List<Measurement> found = new ListenerCollector().collect(p -> p == port);
      assertThat(found).contains(new Measurement(Measurement.Kind.LISTENER, "tcp/127.0.0.1:" + port, me));
      assertThat(found).allMatch(m -> m.key().endsWith(":" + port));
    }
  }

  @Test
  void udpAndIpv6ListenersAreFoundToo() throws Exception {
    String me = Files.readSymbolicLink(Path.of("/proc/self/exe")).toString();
    try (DatagramSocket u = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
      int port = u.getLocalPort();
      assertThat(new ListenerCollector().collect(p -> p == port)).contains(new Measurement(Measurement.Kind.LISTENER, "udp/127.0.0.1:" + port, me));
    }
    Optional<ServerSocket> v6 = Optional.empty();
    try {
      ServerSocket s = new ServerSocket();
      s.bind(new InetSocketAddress(InetAddress.getByName("::1"), 0));
      v6 = Optional.of(s);
    } catch (java.io.IOException e) {
      // no IPv6 loopback on this machine: nothing to check
    }
    if (v6.isPresent()) {
      try (ServerSocket s = v6.get()) {
        int port = s.getLocalPort();
        assertThat(new ListenerCollector().collect(p -> p == port)).contains(new Measurement(Measurement.Kind.LISTENER, "tcp/[::1]:" + port, me));
      }
    }
  }

  @Test
  void kernelAddressDumpsDecode() {
    assertThat(ListenerCollector.address("0100007F")).isEqualTo("127.0.0.1");
    assertThat(ListenerCollector.address("00000000000000000000000001000000")).isEqualTo("[::1]");
    assertThat(ListenerCollector.address("00000000000000000000000000000000")).isEqualTo("[::]");
    assertThat(ListenerCollector.address("0000000000000000FFFF00000100007F")).isEqualTo("127.0.0.1");
  }

  @Test
  void osReleaseIsReported() {
    assertThat(new OsCollector().collect()).extracting(Measurement::key).contains("kernel");
  }
}
