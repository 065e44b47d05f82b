package dev.m2mfa.agent;

import dev.m2mfa.api.LoginTranscript;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * One TLS 1.3 connection to the authority, speaking just enough HTTP/1.1 (keep-alive,
 * Content-Length or chunked responses, bounded sizes) for the agent's JSON calls.
 *
 * <p>Why hand-written: login binds its transcript to the TLS exporter of the exact connection
 * that carries both login calls. The JDK HttpClient neither pins a request to a connection
 * nor exposes the exporter, and the same holds for the common HTTP client libraries; a plain
 * {@link SSLSocket} gives both, at the price of this small class.
 */
public final class AuthorityChannel implements AutoCloseable {
  private static final int MAX_RESPONSE = 1024 * 1024;
  private final SSLSocket socket;
  private final InputStream in;
  private final OutputStream out;
  private final String hostHeader;

  /** A response: status and body. */
  public record Response(int status, String contentType, byte[] body) {
    public String text() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  /**
   * @param bindAddress local source address (null for the system's choice); the demo binds
   *     127.0.0.x to stand in for different networks
   */
  public AuthorityChannel(SSLContext tls, String host, int port, InetAddress bindAddress, int timeoutMillis) throws IOException {
    SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket();
    try {
      s.setTcpNoDelay(true);
      s.setSoTimeout(timeoutMillis);
      if (bindAddress != null) s.bind(new InetSocketAddress(bindAddress, 0));
      s.connect(new InetSocketAddress(host, port), timeoutMillis);
      SSLParameters p = s.getSSLParameters();
      p.setProtocols(new String[] {"TLSv1.3"});
      p.setEndpointIdentificationAlgorithm("HTTPS");
      s.setSSLParameters(p);
      s.startHandshake();
    } catch (IOException e) {
      s.close();
      throw e;
    }
    this.socket = s;
    this.in = new BufferedInputStream(s.getInputStream(), 16 * 1024);
    this.out = s.getOutputStream();
    this.hostHeader = (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }

  /** The RFC 5705 exporter for login channel binding on this connection. */
  public byte[] loginExporter() throws IOException {
    return ((ExtendedSSLSession) socket.getSession())
        .exportKeyingMaterialData(LoginTranscript.EXPORTER_LABEL, null, LoginTranscript.EXPORTER_LENGTH);
  }

  public InetAddress localAddress() {
    return socket.getLocalAddress();
  }

  public Response get(String path) throws IOException {
    return exchange("GET", path, null);
  }

  public Response postJson(String path, byte[] json) throws IOException {
    return exchange("POST", path, json);
  }

  public synchronized Response exchange(String method, String path, byte[] body) throws IOException {
    return exchange(method, path, body, java.util.Map.of());
  }

  /** The https URI of {@code path} on this authority (for a DPoP proof's {@code htu}). */
  public java.net.URI uri(String path) {
    return java.net.URI.create("https://" + hostHeader + path);
  }

  /** Like {@link #exchange(String, String, byte[])} with extra request headers (names and values must be plain ASCII, no CR/LF). */
  public synchronized Response exchange(String method, String path, byte[] body, java.util.Map<String, String> headers) throws IOException {
    StringBuilder h = new StringBuilder();
    h.append(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: ").append(hostHeader).append("\r\n");
    h.append("Accept: application/json\r\n");
    for (var e : headers.entrySet()) {
      if ((e.getKey() + e.getValue()).chars().anyMatch(c -> c < 0x20 || c > 0x7e)) throw new IllegalArgumentException("header not plain ASCII");
      h.append(e.getKey()).append(": ").append(e.getValue()).append("\r\n");
    }
    if (body != null) h.append("Content-Type: application/json\r\nContent-Length: ").append(body.length).append("\r\n");
    h.append("\r\n");
    out.write(h.toString().getBytes(StandardCharsets.US_ASCII));
    if (body != null) out.write(body);
    out.flush();
    return readResponse();
  }

  private Response readResponse() throws IOException {
    String status = line();
    if (!status.startsWith("HTTP/1.1 ") || status.length() < 12) throw new IOException("malformed HTTP status line");
    int code;
    try {
      code = Integer.parseInt(status.substring(9, 12));
    } catch (NumberFormatException e) {
      throw new IOException("malformed HTTP status line");
    }
    long length = -1;
    boolean chunked = false;
    String type = null;
    int headerCount = 0;
    for (String l = line(); !l.isEmpty(); l = line()) {
      if (++headerCount > 100) throw new IOException("too many response headers");
      int colon = l.indexOf(':');
      if (colon <= 0) continue;
      String name = l.substring(0, colon).trim().toLowerCase(Locale.ROOT);
      String value = l.substring(colon + 1).trim();
      switch (name) {
        case "content-length" -> length = Long.parseLong(value);
        case "transfer-encoding" -> chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
        case "content-type" -> type = value;
        default -> { }
      }
    }
    byte[] body;
    if (chunked) {
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      while (true) {
        String sizeLine = line();
        int semi = sizeLine.indexOf(';');
        int size = Integer.parseInt((semi < 0 ? sizeLine : sizeLine.substring(0, semi)).trim(), 16);
        if (size == 0) {
          while (!line().isEmpty()) { /* trailers */ }
          break;
        }
        if (buf.size() + size > MAX_RESPONSE) throw new IOException("response too large");
        buf.write(in.readNBytes(size));
        line();
      }
      body = buf.toByteArray();
    } else {
      if (length < 0 || length > MAX_RESPONSE) throw new IOException("response without a usable length");
      body = in.readNBytes((int) length);
      if (body.length != length) throw new IOException("connection closed mid-response");
    }
    return new Response(code, type, body);
  }

  private String line() throws IOException {
    StringBuilder sb = new StringBuilder();
    while (true) {
      int b = in.read();
      if (b < 0) throw new IOException("connection closed");
      if (b == '\n') break;
      if (b != '\r') sb.append((char) b);
      if (sb.length() > 8192) throw new IOException("response line too long");
    }
    return sb.toString();
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
