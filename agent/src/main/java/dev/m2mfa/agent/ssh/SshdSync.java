package dev.m2mfa.agent.ssh;

import dev.m2mfa.api.pki.KeyFiles;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;

/**
 * Keeps an sshd's trust files current: {@code trusted_user_ca_keys} (for
 * {@code TrustedUserCAKeys}) and {@code revoked_keys.krl} (for {@code RevokedKeys}), fetched from
 * the authority's public {@code /v1/ssh/user-ca.pub} and {@code /v1/ssh/krl} over TLS that
 * trusts only the authority's root.
 *
 * <p>Each file is replaced atomically (temp file in the same directory, fsync, rename, fsync
 * of the directory), and only when its content changed, so sshd never reads a half-written
 * file. sshd reads {@code RevokedKeys} at every authentication, so a new KRL takes effect on the
 * next connection without a reload. Answers are checked before they are written: the CA file
 * must be one OpenSSH public key line, the KRL must start with the KRL magic; both are bounded.
 * A failed fetch leaves the old files in place.
 *
 * <p>{@link #run} follows {@code /v1/revocations/stream}: every line other than a heartbeat
 * (snapshot, revoke, reinstate, keys) triggers a sync, and a sync also runs every
 * {@code refresh} (the KRL drops expired serials, and a missed event is caught up). The stream
 * reconnects with backoff (1 s to 30 s); a watchdog closes it when no line (the authority sends
 * a heartbeat every second or so) arrived for {@value #SILENCE_SECONDS} s, so a connection that
 * died silently costs at most that long, not the refresh interval.
 */
public final class SshdSync implements AutoCloseable {
  public static final String CA_FILE = "trusted_user_ca_keys";
  public static final String KRL_FILE = "revoked_keys.krl";
  private static final int MAX_CA = 8 * 1024;
  private static final int MAX_KRL = 4 * 1024 * 1024;
  private static final int MAX_LINE = 1024 * 1024;
  static final int SILENCE_SECONDS = 30;
  private static final byte[] KRL_MAGIC = "SSHKRL\n\0".getBytes(StandardCharsets.US_ASCII);

  private final URI authority;
  private final HttpClient http;
  private final Path outDir;
  private final Duration refresh;
  private final Semaphore wake = new Semaphore(0);
  private volatile boolean closed;
  private volatile Thread streamThread;
  private volatile InputStream currentStream;
  private volatile long lastLineNanos = System.nanoTime();

  /** @param authority {@code https://host:port} */
  public SshdSync(URI authority, SSLContext tls, Path outDir, Duration refresh) {
    this.authority = authority;
    this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(tls).connectTimeout(Duration.ofSeconds(10)).build();
    this.outDir = outDir;
    this.refresh = refresh;
  }

  /** What one sync changed. */
  public record Result(boolean caChanged, boolean krlChanged) {}

  /** Fetches both files and replaces those that changed. */
  public Result syncOnce() throws IOException, InterruptedException {
    byte[] ca = fetch("/v1/ssh/user-ca.pub", MAX_CA);
    String line = new String(ca, StandardCharsets.US_ASCII).strip();
    if (line.isEmpty() || line.contains("\n") || !(line.startsWith("ssh-ed25519 ") || line.startsWith("ecdsa-sha2-nistp256 "))) {
      throw new IOException("the authority's user CA is not one OpenSSH public key line");
    }
    byte[] krl = fetch("/v1/ssh/krl", MAX_KRL);
    if (krl.length < KRL_MAGIC.length || !Arrays.equals(Arrays.copyOf(krl, KRL_MAGIC.length), KRL_MAGIC)) {
      throw new IOException("the authority's KRL does not start with the KRL magic");
    }
    Files.createDirectories(outDir);
    boolean caChanged = replaceIfChanged(outDir.resolve(CA_FILE), (line + "\n").getBytes(StandardCharsets.US_ASCII));
    boolean krlChanged = replaceIfChanged(outDir.resolve(KRL_FILE), krl);
    return new Result(caChanged, krlChanged);
  }

  private static boolean replaceIfChanged(Path file, byte[] content) throws IOException {
    if (Files.exists(file) && Files.size(file) == content.length && Arrays.equals(Files.readAllBytes(file), content)) return false;
    KeyFiles.writeAtomically(file, content, "rw-r--r--");
    return true;
  }

  private byte[] fetch(String path, int max) throws IOException, InterruptedException {
    HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(authority.resolve(path)).timeout(Duration.ofSeconds(20)).GET().build(),
        HttpResponse.BodyHandlers.ofInputStream());
    try (InputStream in = r.body()) {
      if (r.statusCode() != 200) throw new IOException("GET " + path + " answered " + r.statusCode());
      byte[] b = in.readNBytes(max + 1);
      if (b.length > max) throw new IOException("GET " + path + " answered more than " + max + " bytes");
      return b;
    }
  }

  /**
   * Syncs now, then on every revocation stream event and every {@code refresh}, until
   * {@link #close}. Failures are reported to {@code log} and retried; they never delete files.
   */
  public void run(java.util.function.Consumer<String> log) throws InterruptedException {
    streamThread = Thread.ofVirtual().name("sshd-sync-stream").start(() -> followStream(log));
    Thread.ofVirtual().name("sshd-sync-watchdog").start(() -> {
      while (!closed) {
        try {
          Thread.sleep(1000);
        } catch (InterruptedException e) {
          return;
        }
        InputStream in = currentStream;
        if (in != null && System.nanoTime() - lastLineNanos > TimeUnit.SECONDS.toNanos(SILENCE_SECONDS)) {
          try {
            in.close();
          } catch (IOException ignored) {
            // the reader sees the close and reconnects
          }
        }
      }
    });
    while (!closed) {
      try {
        Result r = syncOnce();
        if (r.caChanged() || r.krlChanged()) log.accept("sshd-sync: updated" + (r.caChanged() ? " " + CA_FILE : "") + (r.krlChanged() ? " " + KRL_FILE : ""));
      } catch (IOException e) {
        log.accept("sshd-sync: " + e.getMessage() + " (keeping the current files)");
      }
      wake.tryAcquire(refresh.toMillis(), TimeUnit.MILLISECONDS);
      wake.drainPermits();
    }
  }

  private void followStream(java.util.function.Consumer<String> log) {
    long backoff = 1000;
    while (!closed) {
      try {
        HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(authority.resolve("/v1/revocations/stream")).GET().build(),
            HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream in = r.body()) {
          if (r.statusCode() != 200) throw new IOException("revocation stream answered " + r.statusCode());
          backoff = 1000;
          lastLineNanos = System.nanoTime();
          currentStream = in;
          StringBuilder line = new StringBuilder();
          for (int b = in.read(); b >= 0 && !closed; b = in.read()) {
            if (b != '\n') {
              if (line.length() >= MAX_LINE) throw new IOException("revocation stream line too long");
              line.append((char) b);
              continue;
            }
            lastLineNanos = System.nanoTime();
            if (!line.toString().contains("\"type\":\"heartbeat\"")) wake.release();
            line.setLength(0);
          }
        }
      } catch (IOException e) {
        currentStream = null;
        if (!closed) log.accept("sshd-sync: revocation stream: " + e.getMessage() + "; reconnecting");
      } catch (InterruptedException e) {
        return;
      }
      try {
        Thread.sleep(backoff);
      } catch (InterruptedException e) {
        return;
      }
      backoff = Math.min(30_000, backoff * 2);
    }
  }

  @Override
  public void close() {
    closed = true;
    wake.release();
    Thread t = streamThread;
    if (t != null) t.interrupt();
    http.close();
  }
}
