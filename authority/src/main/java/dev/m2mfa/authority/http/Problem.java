package dev.m2mfa.authority.http;

/**
 * An RFC 9457 problem to answer with. The {@code type} slug is stable API; {@code detail}
 * is a fixed, client-safe sentence (never an exception message, SQL, path or secret).
 */
public final class Problem extends RuntimeException {
  public static final String TYPE_BASE = "https://m2mfa.dev/problems/";
  private final int status;
  private final String slug;
  private final String title;

  public Problem(int status, String slug, String title) {
    super(title, null, false, false);
    this.status = status;
    this.slug = slug;
    this.title = title;
  }

  public int status() {
    return status;
  }

  public String slug() {
    return slug;
  }

  public String title() {
    return title;
  }

  public static Problem badRequest(String title) {
    return new Problem(400, "invalid-request", title);
  }

  public static Problem authenticationFailed() {
    return new Problem(401, "authentication-failed", "Authentication failed");
  }

  public static Problem forbidden() {
    return new Problem(403, "forbidden", "An admin client certificate is required");
  }

  public static Problem notFound() {
    return new Problem(404, "not-found", "No such resource");
  }

  public static Problem methodNotAllowed() {
    return new Problem(405, "method-not-allowed", "Method not allowed on this resource");
  }

  public static Problem conflict(String title) {
    return new Problem(409, "conflict", title);
  }

  public static Problem tooLarge() {
    return new Problem(413, "payload-too-large", "Request body too large");
  }

  public static Problem unsupportedMediaType() {
    return new Problem(415, "unsupported-media-type", "Content-Type must be application/json");
  }

  public static Problem overloaded() {
    return new Problem(503, "overloaded", "Try again later");
  }

  public static Problem internal() {
    return new Problem(500, "internal-error", "Internal error");
  }

  /** A problem for a status Jetty produced itself (bad message, header too large...). */
  public static Problem forStatus(int status) {
    return switch (status) {
      case 400 -> badRequest("Malformed HTTP request");
      case 404 -> notFound();
      case 405 -> methodNotAllowed();
      case 413 -> tooLarge();
      case 414 -> new Problem(414, "uri-too-long", "Request URI too long");
      case 415 -> unsupportedMediaType();
      case 431 -> new Problem(431, "request-header-too-large", "Request headers too large");
      case 503 -> overloaded();
      default -> status >= 400 && status < 500 ? new Problem(status, "invalid-request", "Request refused") : internal();
    };
  }

  public byte[] json() {
    return ("{\"type\":\"" + TYPE_BASE + slug + "\",\"title\":\"" + title.replace("\\", "\\\\").replace("\"", "\\\"") + "\",\"status\":" + status + "}")
        .getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }
}
