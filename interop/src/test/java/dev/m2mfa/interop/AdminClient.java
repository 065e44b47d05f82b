package dev.m2mfa.interop;

import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.api.pki.Pem;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLContext;

/**
 * TLS contexts and a JDK {@link HttpClient} (HTTP/1.1) for talking to a test authority: trust
 * only its root, optionally presenting the admin credential written by {@code Authority.init}
 * ({@code admin/admin.pem} chain, {@code admin/admin.key} plain PKCS#8).
 */
final class AdminClient {
  static final Duration TIMEOUT = Duration.ofSeconds(20);

  private AdminClient() {}

  /** A response as the tests look at it. */
  record Reply(int status, String contentType, String body) {}

  /** Trusts only {@code root}; presents no client certificate. */
  static SSLContext trusting(X509Certificate root) {
    return context(root, null, null);
  }

  /** Trusts the authority root in {@code authorityDir/ca/ca.pem} and presents the admin certificate. */
  static SSLContext admin(Path authorityDir) throws IOException {
    X509Certificate root = Pem.certificate(Files.readString(authorityDir.resolve("ca").resolve("ca.pem")));
    List<X509Certificate> chain = Pem.certificates(Files.readString(authorityDir.resolve("admin").resolve("admin.pem")));
    PrivateKey key = KeyFiles.readPlain(authorityDir.resolve("admin").resolve("admin.key"));
    return context(root, key, chain);
  }

  private static SSLContext context(X509Certificate root, PrivateKey key, List<X509Certificate> chain) {
    return dev.m2mfa.api.pki.TlsContexts.create(root, chain, key);
  }

  static HttpClient client(SSLContext tls) {
    return client(tls, null);
  }

  /** An HTTP/1.1 client; {@code local} binds the source address (127.0.0.x stands for a network). */
  static HttpClient client(SSLContext tls, InetAddress local) {
    HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(tls)
        .connectTimeout(TIMEOUT).followRedirects(HttpClient.Redirect.NEVER);
    if (local != null) b.localAddress(local);
    return b.build();
  }

  static URI uri(int port, String path) {
    return URI.create("https://127.0.0.1:" + port + path);
  }

  static Reply send(HttpClient client, HttpRequest request) throws IOException, InterruptedException {
    HttpResponse<byte[]> r = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
    return new Reply(r.statusCode(), r.headers().firstValue("Content-Type").orElse(null), new String(r.body(), StandardCharsets.UTF_8));
  }

  static Reply get(HttpClient client, int port, String path) throws IOException, InterruptedException {
    return send(client, HttpRequest.newBuilder(uri(port, path)).timeout(TIMEOUT).GET().build());
  }

  static Reply postJson(HttpClient client, int port, String path, String json) throws IOException, InterruptedException {
    return send(client, HttpRequest.newBuilder(uri(port, path)).timeout(TIMEOUT).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json)).build());
  }
}
