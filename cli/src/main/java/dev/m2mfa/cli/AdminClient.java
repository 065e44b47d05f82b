package dev.m2mfa.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.api.pki.Pem;
import dev.m2mfa.api.pki.TlsContexts;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;

/** The admin API over HTTPS, authenticated by the admin client certificate written at init. */
public final class AdminClient implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final HttpClient http;
  private final URI base;

  public AdminClient(URI base, X509Certificate root, List<X509Certificate> adminChain, PrivateKey adminKey) {
    this.base = base;
    try {
      SSLContext ctx = TlsContexts.create(root, adminChain, adminKey);
      http = HttpClient.newBuilder().sslContext(ctx).version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    } catch (Exception e) {
      throw new IllegalStateException("cannot set up the admin TLS client", e);
    }
  }

  /** From an authority directory: its admin credential, root, and the given address. */
  public static AdminClient forAuthorityDir(Path dir, String host, int port) throws IOException {
    X509Certificate root = Pem.certificate(Files.readString(dir.resolve("ca/ca.pem")));
    List<X509Certificate> chain = Pem.certificates(Files.readString(dir.resolve("admin/admin.pem")));
    PrivateKey key = KeyFiles.readPlain(dir.resolve("admin/admin.key"));
    return new AdminClient(URI.create("https://" + host + ":" + port), root, chain, key);
  }

  public JsonNode get(String path) throws IOException {
    return send(HttpRequest.newBuilder(base.resolve(path)).GET());
  }

  public JsonNode post(String path, Map<String, ?> body) throws IOException {
    return send(HttpRequest.newBuilder(base.resolve(path)).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body))));
  }

  private JsonNode send(HttpRequest.Builder b) throws IOException {
    try {
      HttpResponse<byte[]> r = http.send(b.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
      JsonNode n = JSON.readTree(r.body());
      if (r.statusCode() / 100 != 2) throw new IOException("authority answered " + r.statusCode() + ": " + n.path("title").asText());
      return n;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted");
    }
  }

  @Override
  public void close() {
    http.close();
  }
}
