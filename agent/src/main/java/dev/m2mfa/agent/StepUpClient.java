package dev.m2mfa.agent;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Calls a relying service with the agent's DPoP-bound token and follows RFC 9470 step-up: when
 * the service answers 401 with {@code error="insufficient_user_authentication"} and
 * {@code acr_values}, the agent logs in again asking for one of those levels (the authority
 * then challenges the stronger factors) and retries once with the new token. Any other 401 is
 * returned as it is; a level the machine cannot reach ends in the authority's refusal.
 */
public final class StepUpClient {
  private static final Pattern ERROR = Pattern.compile("error=\"insufficient_user_authentication\"");
  private static final Pattern ACR_VALUES = Pattern.compile("acr_values=\"([\\x21\\x23-\\x7e ]{1,512})\"");

  private final Agent agent;
  private final HttpClient http;
  private final String audience;
  private volatile Agent.Credential credential;

  public StepUpClient(Agent agent, HttpClient http, String audience) {
    this.agent = agent;
    this.http = http;
    this.audience = audience;
  }

  /** A GET with step-up; returns the final response. */
  public HttpResponse<String> get(URI uri) throws IOException, InterruptedException {
    Agent.Credential c = credential;
    if (c == null || c.expiresAt().isBefore(Instant.now().plusSeconds(10))) c = credential = agent.login(audience);
    HttpResponse<String> r = send(uri, c);
    if (r.statusCode() != 401) return r;
    List<String> levels = acrValues(r.headers().allValues("WWW-Authenticate"));
    for (String acr : levels) {
      Agent.Credential stronger;
      try {
        stronger = agent.login(audience, acr);
      } catch (Agent.RefusedException refused) {
        continue; // this machine cannot reach that level; try the next acceptable one
      }
      credential = stronger;
      return send(uri, stronger);
    }
    return r;
  }

  /** The credential in use (after a step-up, the stronger one). */
  public Agent.Credential credential() {
    return credential;
  }

  private HttpResponse<String> send(URI uri, Agent.Credential c) throws IOException, InterruptedException {
    HttpRequest req = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(20)).GET()
        .header("Authorization", "DPoP " + c.accessToken()).header("DPoP", agent.dpopProof("GET", uri, c.accessToken())).build();
    return http.send(req, HttpResponse.BodyHandlers.ofString());
  }

  /** The {@code acr_values} of an RFC 9470 step-up challenge, in the service's order; empty if it is not one. */
  public static List<String> acrValues(List<String> wwwAuthenticate) {
    List<String> out = new ArrayList<>();
    for (String h : wwwAuthenticate) {
      if (h.length() > 4096 || !ERROR.matcher(h).find()) continue;
      Matcher m = ACR_VALUES.matcher(h);
      if (m.find()) {
        for (String v : m.group(1).split(" ")) if (!v.isBlank() && out.size() < 8) out.add(v);
      }
    }
    return out;
  }
}
