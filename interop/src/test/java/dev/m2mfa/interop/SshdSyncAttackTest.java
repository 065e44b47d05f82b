package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.m2mfa.agent.ssh.SshdSync;
import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.api.pki.TlsContexts;
import dev.m2mfa.authority.pki.CertificateAuthority;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SshdSync} against a hostile or broken "authority": answers that are not a CA key line
 * or a KRL, oversized answers, errors, and a server with a certificate from another root. Each
 * fetch fails and the host's current trust files stay exactly as they were; a good answer then
 * replaces them (so the refusals are the checks, not a broken sync).
 */
class SshdSyncAttackTest {
  static final String GOOD_CA = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEo7Ju/3Ev7wmCaAhxn6/x6fdQQ8tVx2ScA2KMztS1C/";
  @TempDir static Path tmp;
  static HttpsServer server;
  static CertificateAuthority ca;
  static CertificateAuthority otherCa;
  static final AtomicReference<byte[]> caBody = new AtomicReference<>();
  static final AtomicReference<byte[]> krlBody = new AtomicReference<>();
  static final AtomicReference<Integer> status = new AtomicReference<>(200);

  @BeforeAll
  static void start() throws Exception {
    ca = CertificateAuthority.create(tmp.resolve("ca"), "sync.test", "p".toCharArray());
    otherCa = CertificateAuthority.create(tmp.resolve("other-ca"), "sync.test", "p".toCharArray());
    KeyPair tls = KeyFiles.newP256();
    var cert = ca.issueServer(tls.getPublic(), CertificateAuthority.defaultServerNames("127.0.0.1"), Duration.ofHours(1));
    SSLContext ctx = TlsContexts.create(ca.root(), ca.chainFor(cert), tls.getPrivate());
    server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setHttpsConfigurator(new HttpsConfigurator(ctx));
    server.createContext("/v1/ssh/user-ca.pub", ex -> reply(ex, caBody.get()));
    server.createContext("/v1/ssh/krl", ex -> reply(ex, krlBody.get()));
    server.start();
  }

  static void reply(com.sun.net.httpserver.HttpExchange ex, byte[] body) throws IOException {
    ex.sendResponseHeaders(status.get(), body.length);
    ex.getResponseBody().write(body);
    ex.close();
  }

  @AfterAll
  static void stop() {
    server.stop(0);
  }

  static SshdSync sync(Path out, CertificateAuthority trusted) {
    return new SshdSync(URI.create("https://127.0.0.1:" + server.getAddress().getPort()), TlsContexts.create(trusted.root(), null, null),
        out, Duration.ofMinutes(5));
  }

  static byte[] krl(String tail) {
    return ("SSHKRL\n\0" + tail).getBytes(StandardCharsets.ISO_8859_1);
  }

  @Test
  void badAnswersLeaveTheCurrentFilesUntouched() throws Exception {
    Path out = tmp.resolve("out");
    status.set(200);
    caBody.set((GOOD_CA + "\n").getBytes(StandardCharsets.US_ASCII));
    krlBody.set(krl("v1"));
    try (SshdSync s = sync(out, ca)) {
      assertThat(s.syncOnce()).isEqualTo(new SshdSync.Result(true, true));
      byte[] caBefore = Files.readAllBytes(out.resolve(SshdSync.CA_FILE));
      byte[] krlBefore = Files.readAllBytes(out.resolve(SshdSync.KRL_FILE));

      Object[][] attacks = {
          {"two CA lines", (GOOD_CA + "\n" + GOOD_CA + "\n").getBytes(StandardCharsets.US_ASCII), krl("v2"), 200},
          {"not a key", "<html>hello</html>".getBytes(StandardCharsets.US_ASCII), krl("v2"), 200},
          {"an RSA key is not our CA", "ssh-rsa AAAAB3NzaC1yc2E=".getBytes(StandardCharsets.US_ASCII), krl("v2"), 200},
          {"oversized CA", ("ssh-ed25519 " + "A".repeat(9000)).getBytes(StandardCharsets.US_ASCII), krl("v2"), 200},
          {"KRL without magic", (GOOD_CA + "\n").getBytes(StandardCharsets.US_ASCII), "not a krl".getBytes(StandardCharsets.US_ASCII), 200},
          {"oversized KRL", (GOOD_CA + "\n").getBytes(StandardCharsets.US_ASCII), krl("x".repeat(5 * 1024 * 1024)), 200},
          {"server error", (GOOD_CA + "\n").getBytes(StandardCharsets.US_ASCII), krl("v2"), 500},
      };
      for (Object[] a : attacks) {
        caBody.set((byte[]) a[1]);
        krlBody.set((byte[]) a[2]);
        status.set((Integer) a[3]);
        assertThatThrownBy(s::syncOnce).as((String) a[0]).isInstanceOf(IOException.class);
        assertThat(Files.readAllBytes(out.resolve(SshdSync.CA_FILE))).as((String) a[0]).isEqualTo(caBefore);
        assertThat(Files.readAllBytes(out.resolve(SshdSync.KRL_FILE))).as((String) a[0]).isEqualTo(krlBefore);
      }

      // a good answer again: the KRL is replaced, the unchanged CA file is left alone
      status.set(200);
      caBody.set((GOOD_CA + "\n").getBytes(StandardCharsets.US_ASCII));
      krlBody.set(krl("v3"));
      assertThat(s.syncOnce()).isEqualTo(new SshdSync.Result(false, true));
      assertThat(Files.readAllBytes(out.resolve(SshdSync.KRL_FILE))).isEqualTo(krl("v3"));
    }
  }

  @Test
  void serverWithAnotherRootIsNotBelieved() throws Exception {
    Path out = tmp.resolve("out-other");
    status.set(200);
    caBody.set((GOOD_CA + "\n").getBytes(StandardCharsets.US_ASCII));
    krlBody.set(krl("v1"));
    try (SshdSync s = sync(out, otherCa)) {
      assertThatThrownBy(s::syncOnce).isInstanceOf(IOException.class);
    }
    assertThat(out.resolve(SshdSync.CA_FILE)).doesNotExist();
  }
}
