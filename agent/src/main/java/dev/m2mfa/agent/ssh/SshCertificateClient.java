package dev.m2mfa.agent.ssh;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.AuthorityChannel;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Gets OpenSSH certificates for this machine: one TLS connection, a full login for audience
 * {@value #AUDIENCE} (every factor of the machine's class), then one POST to
 * {@code /v1/ssh/user-certificate} or {@code /v1/ssh/host-certificate} with the fresh token
 * ({@code Authorization: DPoP}) and a DPoP proof signed by the identity key. Only SSH public
 * keys travel; the identity key stays in its provider and the SSH private key on disk.
 */
public final class SshCertificateClient {
  public static final String AUDIENCE = "m2mfa:ssh";
  private static final ObjectMapper JSON = new ObjectMapper();

  private SshCertificateClient() {}

  /** One issued certificate as the authority described it. */
  public record Certificate(String line, String serial, String keyId, List<String> principals, long validAfter, long validBefore) {}

  public static Certificate userCertificate(Agent agent, String publicKeyLine) throws IOException {
    JsonNode n = call(agent, "/v1/ssh/user-certificate", Map.of("public_key", publicKeyLine));
    return certificate(n);
  }

  public static List<Certificate> hostCertificates(Agent agent, List<String> publicKeyLines) throws IOException {
    JsonNode n = call(agent, "/v1/ssh/host-certificate", Map.of("public_keys", publicKeyLines));
    List<Certificate> out = new ArrayList<>();
    for (JsonNode c : n.path("certificates")) out.add(certificate(c));
    return out;
  }

  private static JsonNode call(Agent agent, String path, Object body) throws IOException {
    try (AuthorityChannel ch = agent.channel()) {
      Agent.Credential c = agent.login(ch, AUDIENCE);
      URI uri = ch.uri(path);
      String proof = agent.dpopProof("POST", uri, c.accessToken());
      AuthorityChannel.Response r = ch.exchange("POST", path, JSON.writeValueAsBytes(body),
          Map.of("Authorization", "DPoP " + c.accessToken(), "DPoP", proof));
      if (r.status() != 200) {
        String type = null;
        try {
          type = JSON.readTree(r.body()).path("type").asText(null);
        } catch (IOException ignored) {
          // not a problem document
        }
        throw new Agent.RefusedException(r.status(), type);
      }
      return JSON.readTree(r.body());
    }
  }

  private static Certificate certificate(JsonNode n) throws IOException {
    String line = n.path("certificate").asText("");
    if (!line.contains("-cert-v01@openssh.com ")) throw new IOException("the authority's answer holds no certificate");
    List<String> principals = new ArrayList<>();
    n.path("principals").forEach(p -> principals.add(p.asText()));
    return new Certificate(line, n.path("serial").asText(), n.path("key_id").asText(), principals, n.path("valid_after").asLong(),
        n.path("valid_before").asLong());
  }
}
