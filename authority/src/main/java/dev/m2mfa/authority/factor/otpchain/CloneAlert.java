package dev.m2mfa.authority.factor.otpchain;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells operators that a clone was caught: always one log line on the {@code m2mfa.alert}
 * logger (stable prefix {@code ALERT otp-chain-clone}, for log-based alerting), and, when
 * {@code otp_chain.alert_webhook} is set, one JSON POST to that URL (5 s timeout, no retry:
 * the audit log and the log line are the durable record). Never carries secrets.
 */
final class CloneAlert {
  private static final Logger LOG = LoggerFactory.getLogger("m2mfa.alert");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final URI webhook;
  private final HttpClient http;

  CloneAlert(URI webhook) {
    this.webhook = webhook;
    this.http = webhook == null ? null : HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  }

  /** Parses and checks the configured webhook (http or https with a host), or null. */
  static URI parseWebhook(String value) {
    if (value == null || value.isBlank()) return null;
    URI u;
    try {
      u = URI.create(value.strip());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("otp_chain.alert_webhook is not a URL");
    }
    if (!("https".equals(u.getScheme()) || "http".equals(u.getScheme())) || u.getHost() == null || u.getUserInfo() != null) {
      throw new IllegalArgumentException("otp_chain.alert_webhook must be an http(s) URL with a host and no user info");
    }
    return u;
  }

  void cloneDetected(Map<String, Object> detail) {
    LOG.error("ALERT otp-chain-clone machine={} this_source={} other_source={} revocation_seq={}", detail.get("machine"),
        detail.get("this_source"), detail.get("other_source"), detail.get("revocation_seq"));
    if (webhook == null) return;
    try {
      byte[] body = JSON.writeValueAsBytes(Map.of("event", "otp_chain.clone_detected", "detail", detail));
      HttpRequest req = HttpRequest.newBuilder(webhook).timeout(Duration.ofSeconds(5)).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
      http.sendAsync(req, HttpResponse.BodyHandlers.discarding()).whenComplete((r, e) -> {
        if (e != null) LOG.warn("otp-chain alert webhook failed: {}", e.getClass().getSimpleName());
        else if (r.statusCode() / 100 != 2) LOG.warn("otp-chain alert webhook answered {}", r.statusCode());
      });
    } catch (Exception e) {
      LOG.warn("otp-chain alert webhook failed: {}", e.getClass().getSimpleName());
    }
  }
}
